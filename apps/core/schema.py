"""OpenAPI schema conventions: component names that stay unique across apps.

- A nested `InputSerializer`/`OutputSerializer` is named after its API: `GiftSendApi.InputSerializer`
  becomes `GiftSendApiInput`.
- A top-level serializer keeps its class name unless another app defines a serializer of the same
  name (two apps each having a `UserBriefSerializer`): then both get their app as a prefix
  (`AccountsUserBrief`, `LiveUserBrief`) instead of drf-spectacular warning and merging them.
"""

from collections import Counter
from typing import Any, Literal

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers
from rest_framework.permissions import BasePermission

from apps.core.bounds import BIGINT_MAX


def _project_serializer_names() -> Counter[str]:
    """How many top-level serializer classes of our apps carry each class name."""
    counts: Counter[str] = Counter()
    seen: set[type] = set()
    stack: list[type] = [serializers.BaseSerializer]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub in seen:
                continue
            seen.add(sub)
            stack.append(sub)
            if sub.__module__.startswith("apps.") and "." not in sub.__qualname__:
                counts[sub.__name__] += 1
    return counts


def _app_prefix(cls: type) -> str:
    # "apps.live.apis" -> "Live"
    return cls.__module__.split(".")[1].title().replace("_", "")


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer: Any, direction: Literal["request", "response"]) -> str:
        cls = serializer.__class__
        qualname = cls.__qualname__
        if "<locals>" in qualname:
            return super().get_serializer_name(serializer, direction)
        if "." in qualname:
            # "GiftSendApi.InputSerializer" becomes "GiftSendApiInput": unique per API.
            return qualname.replace(".", "").removesuffix("Serializer")
        if cls.__module__.startswith("apps.") and _project_serializer_names()[cls.__name__] > 1:
            return _app_prefix(cls) + cls.__name__
        return super().get_serializer_name(serializer, direction)


class BoundedPrimaryKeyField(OpenApiSerializerFieldExtension):
    """A primary-key field takes only an existing row's id: 1..bigint in the schema, as the
    `<id:…>` path parameters and the integer inputs (apps.core.bounds) declare theirs."""

    target_class = "rest_framework.relations.PrimaryKeyRelatedField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if schema.get("type") == "integer":
            schema.setdefault("minimum", 1)
            schema.setdefault("maximum", BIGINT_MAX)
        return schema


class ApiDocsAccess(BasePermission):
    """/api/docs/ and /api/schema/: anyone with API_DOCS_PUBLIC (the embedded default), else staff only."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated and user.is_staff)
