"""Bounds of every integer a client sends: ids and quantities fit PostgreSQL's bigint and are never
negative unless a field says so. Past bigint, a lookup or an insert raised "bigint out of range" (500).

- Serializer input: StrictInputSerializer bounds every IntegerField it holds (nested ones too) that
  declares no bound of its own; the bounds show in the OpenAPI schema (minimum, maximum).
- Path parameters: the `id` converter (`<id:stream_id>`) matches 1..BIGINT_MAX; anything else is a 404.
"""

from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

BIGINT_MAX = 2**63 - 1  # settings.SPECTACULAR_SETTINGS["PATH_CONVERTER_OVERRIDES"] repeats it


class IdConverter:
    """A row id in a path: 1..BIGINT_MAX (Django's `int` takes any number of digits)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= BIGINT_MAX:
            raise ValueError("not a row id")  # the resolver tries the next pattern, then 404s
        return number

    def to_url(self, value: Any) -> str:
        return str(value)


def bound_integer_inputs(field: serializers.Field) -> None:
    """Give every IntegerField in `field` (lists and nested serializers too) the bounds it lacks:
    at least 0 and at most BIGINT_MAX. Explicit min_value and max_value stay as declared."""
    if isinstance(field, serializers.IntegerField):
        if field.max_value is None:
            field.max_value = BIGINT_MAX
            message = field.error_messages["max_value"].format(max_value=BIGINT_MAX)
            field.validators.append(MaxValueValidator(BIGINT_MAX, message=message))
        if field.min_value is None:
            field.min_value = 0
            message = field.error_messages["min_value"].format(min_value=0)
            field.validators.append(MinValueValidator(0, message=message))
    elif isinstance(field, serializers.ListField | serializers.ListSerializer):
        if field.child is not None:
            bound_integer_inputs(field.child)
    elif isinstance(field, serializers.Serializer):
        for child in field.fields.values():
            bound_integer_inputs(child)
