"""One error shape for every 4xx/5xx of the API: {"code", "message", "details"}."""

import logging
import math
from typing import Any

import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy, gettext_noop
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.core.exceptions import DomainError
from apps.core.i18n import localize_digits, translate

logger = logging.getLogger(__name__)


def error_body(code: str, message: "str | Promise", details: Any = None) -> dict[str, Any]:
    """The error in the active language: `message` may be lazy; the `code` never changes with it."""
    return {"code": code, "message": str(message), "details": details if details is not None else {}}


def _first_message(detail: Any) -> str | None:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail) if detail else None


def _localized(detail: Any) -> Any:
    """Field messages with the active language's digits (DRF fills in its numbers as 0-9)."""
    if isinstance(detail, dict):
        return {key: _localized(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_localized(item) for item in detail]
    return localize_digits(detail) if isinstance(detail, str) else detail


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        retry_after = exc.details.get("retry_after")  # a refusal that says when to come back
        headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else None
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status, headers=headers)
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError | DatabaseOperationalError | DatabaseInterfaceError):
        # Redis (revoked tokens, throttles, caches) or PostgreSQL is down, restarting or dropped the
        # request's session (a failover, a terminated backend, a lock or statement timeout): refuse
        # cleanly, with the request's transaction rolled back, so the app tries again later (with the
        # same Idempotency-Key on money endpoints) instead of seeing a server error.
        service = "redis" if isinstance(exc, redis.RedisError) else "database"
        logger.warning("%s unavailable: answered 503", service, extra={"error": type(exc).__name__})
        set_rollback()
        body = error_body("service_unavailable", gettext_lazy("The service is briefly unavailable; try again shortly."))
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": "5"})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django answers 500 (JSON under /api/: ApiErrorShapeMiddleware)

    set_rollback()
    headers = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    # Whole seconds, rounded up: "0" would invite an immediate retry that is refused again.
    wait = getattr(exc, "wait", None)
    retry_after = math.ceil(wait) if wait else None
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)

    if isinstance(exc, exceptions.ValidationError):
        details = _localized(exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail})
        first = _first_message(details)
        message = (
            translate(gettext_noop("Invalid input: %(first)s"), first=localize_digits(first))
            if first
            else gettext("Invalid input.")
        )
        body = error_body("invalid", message, details)
    elif isinstance(exc, exceptions.Throttled):
        body = error_body("throttled", gettext("Too many requests; try again later."), {"retry_after": retry_after})
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)
        body = error_body(code, message)
    return Response(body, status=exc.status_code, headers=headers)
