"""OpenAPI schema conventions: component names that stay unique across apps.

- A nested `InputSerializer`/`OutputSerializer` is named after its API: `GiftSendApi.InputSerializer`
  becomes `GiftSendApiInput`.
- A top-level serializer keeps its class name unless another app defines a serializer of the same
  name (two apps each having a `UserBriefSerializer`): then both get their app as a prefix
  (`AccountsUserBrief`, `LiveUserBrief`) instead of drf-spectacular warning and merging them.
- Every operation declares every error it can answer (AutoSchema below).
"""

import functools
from collections import Counter
from http import HTTPStatus
from typing import Any, Literal

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated

from apps.core.bounds import BIGINT_MAX
from apps.core.error_catalogue import error_catalogue
from apps.core.error_codes import ErrorCode, view_errors


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


class NamedAutoSchema(SpectacularAutoSchema):
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


class ErrorSerializer(serializers.Serializer):
    """The one error shape of every 4xx and 5xx (apps.core.exception_handler)."""

    code = serializers.CharField(help_text="Stable and machine-readable: see the error catalogue, /api/docs/errors/.")
    message = serializers.CharField(help_text="For people; may change and be translated. Do not parse it.")
    details = serializers.DictField(help_text="Whatever the client needs to act: field errors, a balance, a limit.")


_BODY_METHODS = {"POST", "PUT", "PATCH"}
CATALOGUE_URL = "/api/docs/errors/"


def _generic_errors(view: Any, method: str, operation: dict[str, Any]) -> set[ErrorCode]:
    """What the framework can answer for this operation, whatever its own code does."""
    found = {ErrorCode(503, "service_unavailable"), ErrorCode(500, "server_error")}
    if getattr(view, "throttle_classes", None):
        found.add(ErrorCode(429, "throttled"))
    authenticators = list(getattr(view, "authentication_classes", None) or [])
    if authenticators:
        found |= {ErrorCode(401, "authentication_failed"), ErrorCode(401, "token_not_valid")}
    permissions = list(getattr(view, "permission_classes", None) or [])
    if any(cls is not AllowAny for cls in permissions):
        found.add(ErrorCode(401, "not_authenticated"))
    if any(cls not in (AllowAny, IsAuthenticated) for cls in permissions):
        found.add(ErrorCode(403, "permission_denied"))
    if method in _BODY_METHODS and SessionAuthentication in authenticators:
        found.add(ErrorCode(403, "permission_denied"))  # a cookie session without its CSRF token
    # NUL anywhere in the path, the query or the body is refused before any view (RefuseNulMiddleware).
    found.add(ErrorCode(400, "invalid_characters"))
    parameters = operation.get("parameters", [])
    if "requestBody" in operation:
        found |= {
            ErrorCode(400, "invalid"),
            ErrorCode(400, "parse_error"),
            ErrorCode(413, "request_too_large"),
            ErrorCode(415, "unsupported_media_type"),
        }
    if any(parameter["in"] == "query" for parameter in parameters):
        found.add(ErrorCode(400, "invalid"))
    if any(parameter["in"] == "path" for parameter in parameters):
        found.add(ErrorCode(404, "not_found"))
    if method == "GET" and getattr(view, "pagination_class", None):
        found.add(ErrorCode(404, "not_found"))  # DRF's CursorPagination: a cursor it cannot read
    return found


@functools.cache
def _catalogue_meanings() -> dict[ErrorCode, str]:
    """The first meaning the catalogue gives each (status, code)."""
    meanings: dict[ErrorCode, str] = {}
    for entry in error_catalogue():
        meanings.setdefault(ErrorCode(entry.status, entry.code), entry.meaning)
    return meanings


class AutoSchema(NamedAutoSchema):
    """Every operation declares every error it can answer: the one error shape, with the `code`s it can raise.

    The codes are derived from the code (apps.core.error_codes walks what the view calls) plus what
    the framework answers for it (authentication, throttling, validation), so a new `raise` in a
    service shows up in its operation's documentation without anyone writing it there.
    """

    def get_tags(self) -> list[str]:
        """Each operation is tagged with its app ("wallet", "live", ...), so docs and clients group by app."""
        module = type(self.view).__module__
        if module.startswith("apps."):
            return [module.split(".")[1]]
        return super().get_tags()

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        errors = view_errors(type(self.view), self.method) | _generic_errors(self.view, self.method, operation)
        error_ref = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        for status in sorted({error.status for error in errors}):
            if str(status) in responses:
                continue  # the view documented this status itself
            codes = sorted(error.code for error in errors if error.status == status)
            listed = ", ".join(f"`{code}`" for code in codes)
            responses[str(status)] = {
                "description": f"{HTTPStatus(status).phrase}: `code` is one of {listed} (see {CATALOGUE_URL}).",
                "content": {
                    "application/json": {
                        "schema": {
                            "allOf": [
                                error_ref,
                                {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}},
                            ]
                        },
                        "examples": {code: self._error_example_ref(ErrorCode(status, code)) for code in codes},
                    }
                },
            }
        return operation

    def _error_example_ref(self, error: ErrorCode) -> dict[str, Any]:
        """One example per (status, code) under components/examples, shared by every operation."""
        meaning = _catalogue_meanings().get(error, "")
        component = ResolvedComponent(
            name=f"error-{error.status}-{error.code}",
            type=ResolvedComponent.EXAMPLE,
            object=f"error-{error.status}-{error.code}",
            schema={"summary": meaning, "value": {"code": error.code, "message": meaning, "details": {}}},
        )
        self.registry.register_on_missing(component)
        return component.ref


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


_ENCODINGS = {
    "application/json": ("Json", "The same fields sent as JSON"),
    "application/x-www-form-urlencoded": ("Form", "The same fields sent form-encoded"),
}


def request_per_media_type(serializer: type[serializers.Serializer], *media_types: str) -> dict[str, Any]:
    """The request body of an operation that takes several encodings, one model per media type:
    multipart keeps `serializer`; JSON and form-encoding get same-field subclasses named after it
    (`MeApi.InputSerializer` gives `MeApiJsonInput`, `MeApiFormInput`). One model shared by several
    media types leaves a generated client unable to tell which encoding to send."""
    body: dict[str, Any] = {}
    outer = serializer.__qualname__.rpartition(".")[0]
    for media_type in media_types:
        if media_type == "multipart/form-data":
            body[media_type] = serializer
            continue
        prefix, sent = _ENCODINGS[media_type]
        name = prefix + serializer.__name__
        variant = type(name, (serializer,), {"__module__": serializer.__module__})
        variant.__doc__ = f"{sent}: a model of its own, so a generated client picks the encoding."
        variant.__qualname__ = f"{outer}.{name}" if outer else name
        body[media_type] = variant
    return body
