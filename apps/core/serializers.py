from typing import Any

from django.utils.translation import gettext_lazy
from rest_framework import serializers

from apps.core.bounds import bound_integer_inputs


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo must not pass silently) and
    bounds every integer it takes (apps.core.bounds: 0..bigint unless the field says otherwise).

    `keep_fields = True` (hot endpoints): the bound fields are built once per class and shared by
    every instance, where DRF deep-copies each declared field for every request. Only for
    serializers of plain fields whose validation reads neither the context nor the parent (no
    context-dependent defaults, no nested or related fields): the shared fields belong to a blank
    instance."""

    keep_fields = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.keep_fields:
            self.__dict__["fields"] = _kept_fields(type(self))  # DRF's `fields` is a cached_property

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            bound_integer_inputs(field)
        return fields

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [gettext_lazy("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


_kept_input_fields: dict[type[serializers.Serializer], Any] = {}


def _kept_fields(serializer_class: type[StrictInputSerializer]) -> Any:
    """The bound fields of a blank `serializer_class`, built on first use (a field binds only once)."""
    fields = _kept_input_fields.get(serializer_class)
    if fields is None:
        blank = serializers.Serializer.__new__(serializer_class)
        serializers.Serializer.__init__(blank)  # not the class's own __init__: that would come back here
        fields = _kept_input_fields.setdefault(serializer_class, blank.fields)
    return fields


# PostgreSQL's bigint, the type of every primary key: a larger id would crash the query, not miss.
ID_MAX = 2**63 - 1


class IdField(serializers.IntegerField):
    """The id of a row: 1 up to the largest bigint, so an impossible id is a 400, never a 500."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)


_output_serializers: dict[type[serializers.Serializer], serializers.Serializer] = {}


def output_data(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """`serializer_class(instance).data` without building the serializer's fields again for every
    response (DRF deep-copies each declared field per instance: most of a small response's cost).

    For output serializers of plain fields that read only the instance (no context, no request):
    one instance per class is kept and its `to_representation` is stateless for them."""
    serializer = _output_serializers.get(serializer_class)
    if serializer is None:
        serializer = _output_serializers.setdefault(serializer_class, serializer_class())
        serializer.fields  # noqa: B018 - bind the fields once, before any thread shares the instance
    return serializer.to_representation(instance)
