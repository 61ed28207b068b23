"""The one application error every service raises, mapped to one JSON error body."""

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A rule of the domain refused the request.

    Subclasses set `code` (stable, machine-readable), `status` (HTTP) and a default `message`;
    `details` carries whatever the client needs to act (a balance, a retry time, field errors).
    """

    code = "error"
    status = 400
    # Lazy: rendered in the language of whoever reads it (README "Languages").
    message: "str | Promise" = _("The request could not be completed.")

    def __init__(self, message: "str | Promise | None" = None, *, details: dict[str, Any] | None = None, **extra: Any):
        self.message = message or self.message
        self.details = {**(details or {}), **extra}
        super().__init__(self.message)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = _("Not found.")


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    message = _("You do not have permission to perform this action.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = _("The request conflicts with the current state.")


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 409
    message = _("This Idempotency-Key was already used with a different request.")


class IdempotencyKeyInvalid(DomainError):
    code = "idempotency_key_invalid"
    status = 400
    message = _("Send an Idempotency-Key header of 1 to 255 printable characters.")


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    status = 503
    message = _("A required service is not available.")


class InvalidCharacters(DomainError):
    """PostgreSQL cannot store or compare text holding NUL (0x00): refused before any lookup."""

    code = "invalid_characters"
    status = 400
    message = _("The request holds a NUL character (0x00), which no path, parameter or field accepts.")
