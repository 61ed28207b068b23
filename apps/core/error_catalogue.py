"""The error catalogue: every `code` the API answers, its HTTP status, what it means, what to do.

Built from the exception classes themselves (every DomainError subclass, whose `message` says what
happened; a class may set `client_action`, else its status says what a client does), plus the
errors the framework answers for every app (validation, authentication, throttling, ...). Served at
/api/docs/errors/ and linked from the schema, so the documentation cannot drift from the code.
"""

from dataclasses import dataclass

from apps.core.error_codes import ErrorCode, domain_error_classes

# What a client does about an error of each status, unless the error class says better.
ACTION_BY_STATUS = {
    400: "Fix the request as `message` and `details` say; sending it unchanged fails again.",
    401: "Refresh the access token (or sign in again), then retry.",
    403: "Do not retry: this user may not do this now; show the message.",
    404: "It does not exist (any more): refresh the screen that pointed to it.",
    409: "The current state does not allow it: reload that state, then decide again.",
    405: "Use a method the operation documents.",
    406: "Accept application/json.",
    413: "Send a smaller body (the limit is in `details` when known).",
    415: "Send the body in a supported format (JSON, or multipart for uploads).",
    416: "Ask for a byte range inside the file.",
    429: "Wait the seconds in the `Retry-After` header, then retry.",
    500: "Retry later; report the X-Request-ID of the answer if it persists.",
    502: "An outside service (a payment gateway) refused or failed: retry later or choose another.",
    503: "Retry after the `Retry-After` header's seconds (money requests with the same Idempotency-Key).",
}

# Errors the framework answers, whichever app's view runs (apps.core.exception_handler and
# apps.core.middleware give them the one error shape).
FRAMEWORK_ERRORS = {
    ErrorCode(400, "invalid"): "The input failed validation; `details` maps each field to its problems.",
    ErrorCode(400, "parse_error"): "The body is not valid JSON (or not valid multipart).",
    ErrorCode(400, "bad_request"): "The request was malformed (Django refused it before any view).",
    ErrorCode(401, "not_authenticated"): "No credentials were sent, and this operation needs them.",
    ErrorCode(401, "authentication_failed"): "The credentials sent are wrong.",
    ErrorCode(401, "token_not_valid"): "The access token is expired, revoked or malformed.",
    ErrorCode(403, "permission_denied"): "This user may not do this (or a cookie session sent no CSRF token).",
    ErrorCode(404, "not_found"): "No such path or object.",
    ErrorCode(405, "method_not_allowed"): "This path does not answer this HTTP method.",
    ErrorCode(406, "not_acceptable"): "No answer in a format the Accept header allows.",
    ErrorCode(413, "request_too_large"): "The request body is larger than the server accepts.",
    ErrorCode(415, "unsupported_media_type"): "The body's Content-Type is not one this operation reads.",
    ErrorCode(429, "throttled"): "Too many requests; `details.retry_after` and `Retry-After` say when to retry.",
    ErrorCode(500, "server_error"): "A fault on the server; it is logged with the X-Request-ID.",
    ErrorCode(503, "service_unavailable"): "A service the server needs is briefly unavailable.",
}


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    status: int
    meaning: str
    action: str
    source: str  # the exception class, or "framework"


def error_catalogue() -> list[CatalogueEntry]:
    """Every error, sorted by status then code; a code two classes share appears once per meaning."""
    entries = {
        (key.status, key.code, meaning): CatalogueEntry(
            key.code, key.status, meaning, ACTION_BY_STATUS.get(key.status, ""), "framework"
        )
        for key, meaning in FRAMEWORK_ERRORS.items()
    }
    for cls in domain_error_classes():
        meaning = str(cls.message)
        action = getattr(cls, "client_action", None) or ACTION_BY_STATUS.get(cls.status, "")
        source = f"{cls.__module__}.{cls.__qualname__}"
        entries.setdefault(
            (cls.status, cls.code, meaning), CatalogueEntry(cls.code, cls.status, meaning, action, source)
        )
    return sorted(entries.values(), key=lambda entry: (entry.status, entry.code, entry.source))
