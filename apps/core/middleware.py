"""Ops middleware: request ids, internal endpoints, request metrics, staff two-factor, admin login limits.

Order in settings.MIDDLEWARE (top first):
    RequestIdMiddleware          every later log line of the request carries its id
    ApiErrorShapeMiddleware      every 4xx/5xx under /api/ leaves as {"code", "message", "details"}
    InternalEndpointsMiddleware  /healthz, /readyz, /metrics answer before the host and HTTPS checks
                                 (probes and Prometheus call pods by IP over plain HTTP)
    RequestMetricsMiddleware     counts and times everything else
    RequestBodyLimitMiddleware   refuses a body past REQUEST_BODY_MAX_BYTES before anything reads it
    RefuseNulMiddleware          refuses NUL (0x00) in the path, query, JSON or form body (400)
    ... Django's security ...
    CSPMiddleware                django-csp's, keeping the policy it builds from settings
    ... whitenoise, CORS, Django's session, auth ...
    django_otp OTPMiddleware     request.user.is_verified()
    AdminTwoFactorMiddleware     staff must pass a one-time password before the admin (ADMIN_REQUIRE_2FA)
    AdminLoginRateLimitMiddleware  bounds password guessing on the admin login form
    MessageMiddleware            Django's, making the message storage only when something uses it
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import csp.middleware
from csp.constants import HEADER as CSP_HEADER
from csp.constants import HEADER_REPORT_ONLY as CSP_HEADER_REPORT_ONLY
from csp.utils import build_policy as csp_build_policy
from django.conf import settings
from django.contrib.messages import middleware as django_messages_middleware
from django.contrib.messages.storage import default_storage as default_message_storage
from django.core.signals import request_finished, setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject, empty
from django.utils.translation import gettext, gettext_lazy

from apps.core import metrics
from apps.core.client_address import client_address
from apps.core.counters import fixed_window_incr
from apps.core.exception_handler import error_body
from apps.core.exceptions import InvalidCharacters
from apps.core.nul import NUL, holds_nul, query_dict_holds_nul
from apps.core.observability import REQUEST_ID_HEADER, request_id_from_header, request_id_var

logger = logging.getLogger(__name__)

GetResponse = Callable[[HttpRequest], HttpResponse]


def _forget_request_id(**_: Any) -> None:
    request_id_var.set(None)


# Django sends request_finished when the response is closed, after it logged the 4xx/5xx.
request_finished.connect(_forget_request_id, dispatch_uid="hb_forget_request_id")


class RequestIdMiddleware:
    """Takes X-Request-ID from the caller (or makes one), logs with it, and returns it in the response."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]  # read by views and error pages
        # Not reset here: Django logs 4xx/5xx ("django.request") after the middleware chain returns;
        # request_finished clears it.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


# What Django itself answers (no DRF exception handler involved), as DRF's codes for the same statuses.
_STATUS_ERRORS = {
    400: ("bad_request", gettext_lazy("Bad request.")),
    401: ("not_authenticated", gettext_lazy("Authentication credentials were not provided.")),
    403: ("permission_denied", gettext_lazy("You do not have permission to perform this action.")),
    404: ("not_found", gettext_lazy("Not found.")),
    413: ("request_too_large", gettext_lazy("The request body is too large.")),
    500: ("server_error", gettext_lazy("Internal server error.")),
}


def _error_shape_of(request: HttpRequest, response: HttpResponse) -> dict[str, Any]:
    """The error body a non-JSON error response stands for: the DRF body it was rendered from (a
    view with YAML or HTML renderers), else the code and message of its status."""
    data = getattr(response, "data", None)
    if isinstance(data, dict) and {"code", "message", "details"} <= set(data):
        return error_body(data["code"], data["message"], data["details"])  # HTML renderers add keys
    status = response.status_code
    if status == 405:
        return error_body("method_not_allowed", gettext('Method "{method}" not allowed.').format(method=request.method))
    if status in _STATUS_ERRORS:
        return error_body(*_STATUS_ERRORS[status])
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:  # a status HTTP does not name
        phrase = "Error"
    return error_body(phrase.lower().replace(" ", "_").replace("-", "_"), f"{phrase}.")


class ApiErrorShapeMiddleware:
    """Every 4xx/5xx under /api/ in the one error shape, whoever answered it.

    The API's own views already answer so (apps.core.exception_handler). What reaches this far in
    another form comes from Django: an unknown path (with DEBUG on, Django's HTML debug page, not
    handler404), a crash (the debug page or handler500), a refused method of the docs views, which
    render HTML or YAML. Pages outside /api/ keep Django's HTML.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path_info.startswith("/api/")
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        shaped = HttpResponse(
            json.dumps(_error_shape_of(request, response)), status=response.status_code, content_type="application/json"
        )
        for header, value in response.items():  # Allow, Retry-After, WWW-Authenticate, Vary...
            if header.lower() not in ("content-type", "content-length"):
                shaped[header] = value
        shaped.cookies = response.cookies
        return shaped


def _internal_views() -> dict[str, Callable[[HttpRequest], HttpResponse]]:
    from apps.core import views

    return {"/healthz": views.healthz, "/readyz": views.readyz, "/metrics": metrics.metrics_view}


class InternalEndpointsMiddleware:
    """Serves the probe and metrics endpoints directly.

    Kubelet probes and Prometheus reach a pod by its IP over plain HTTP: through the normal stack
    they would meet ALLOWED_HOSTS (400) and the HTTPS redirect (301, which a probe counts as success
    even when the database is down). These views need neither a session nor a user.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.views = _internal_views()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.views.get(request.path_info)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)


class RequestMetricsMiddleware:
    """Counts requests and their latency by view name (bounded), method and status."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match is not None else "unresolved"
        metrics.http_observe(
            view=view, method=request.method or "", status=response.status_code, seconds=time.perf_counter() - started
        )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match is not None else "unresolved"
        metrics.HTTP_EXCEPTIONS.labels(view=view, type=type(exception).__name__[:60]).inc()


# A view's own policy (django-csp's decorators) is kept on the response under these names.
_CSP_OVERRIDES = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_csp_built: dict[bool, str] = {}  # report_only -> the header built from settings alone


@receiver(setting_changed, dispatch_uid="hb_csp_built_forget")
def _csp_built_forget(*, setting: str, **_: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _csp_built.clear()


def _csp_policy(report_only: bool) -> str:
    built = _csp_built.get(report_only)
    if built is None:
        built = _csp_built.setdefault(report_only, csp_build_policy(report_only=report_only))
    return built


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware, keeping the headers it builds from settings alone: it rebuilds both
    policies (copying the settings' directives) for every response, about 0.1 ms of a gift send.
    A response with a view's own policy (django-csp's decorators) or a request that used its nonce
    goes django-csp's own way."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _CSP_OVERRIDES
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # django-csp leaves the debug pages alone
        for report_only, header, setting in (
            (False, CSP_HEADER, "CONTENT_SECURITY_POLICY"),
            (True, CSP_HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            policy = _csp_policy(report_only)
            if not policy or header in response:
                continue
            if getattr(response, "_csp_exempt_ro" if report_only else "_csp_exempt", False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        # As django-csp does: the nonce asked for after the header was written is an error, not a silent miss.
        request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


class MessageMiddleware(django_messages_middleware.MessageMiddleware):
    """Django's, with the message storage made when something uses it: the API never does, and
    making it (a cookie and a session store) was a few per cent of a gift send. A request that never
    touched it has nothing to store, as Django's own update() would find."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_message_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        kept = getattr(request, "_messages", None)
        if type(kept) is SimpleLazyObject and kept.__dict__["_wrapped"] is empty:  # never used
            return response
        return super().process_response(request, response)


class RequestBodyLimitMiddleware:
    """A body declared larger than REQUEST_BODY_MAX_BYTES is refused with 413 before it is read.

    The proxies in front apply the same figure (client_max_body_size, proxy-body-size); this
    keeps a server reached without them to it too. Each upload endpoint has its own, lower limit.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > settings.REQUEST_BODY_MAX_BYTES:
            body = error_body(
                "request_too_large",
                gettext_lazy("The request body is too large."),
                {"max_bytes": settings.REQUEST_BODY_MAX_BYTES, "received_bytes": int(length)},
            )
            return JsonResponse(body, status=413)
        return self.get_response(request)


class RefuseNulMiddleware:
    """A NUL character (0x00) in the path, a query parameter or a JSON or form body is refused with
    400 `invalid_characters`, whatever the view: PostgreSQL cannot hold it, and a lookup with one
    answered 500. Multipart bodies are checked by apps.core.parsers once the view has set its upload
    limits (parsing them here would spool an upload before those limits apply).
    """

    JSON_NUL_MARKERS = (b"\\u0000", b"\x00")  # the escape, or a raw byte (invalid JSON anyway)

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._holds_nul(request):
            refused = InvalidCharacters()
            return JsonResponse(error_body(refused.code, refused.message), status=refused.status)
        return self.get_response(request)

    def _holds_nul(self, request: HttpRequest) -> bool:
        if NUL in request.path_info:
            return True
        query = request.META.get("QUERY_STRING", "")
        if ("%00" in query or NUL in query) and query_dict_holds_nul(request.GET.lists()):
            return True
        length = request.META.get("CONTENT_LENGTH") or ""
        if not length.isdigit() or not 0 < int(length) <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return False  # no body, or one too large to hold here (the serializers refuse NUL too)
        content_type = request.content_type or ""
        if content_type == "application/x-www-form-urlencoded":
            return query_dict_holds_nul(request.POST.lists())
        if content_type == "application/json" or content_type.endswith("+json"):
            body = request.body
            if not any(marker in body for marker in self.JSON_NUL_MARKERS):
                return False  # the common case: no decoding here
            try:
                return holds_nul(json.loads(body))
            except ValueError:  # not JSON: the view's parser answers its own 400
                return False
        return False


def _admin_prefix() -> str:
    return reverse("admin:index")


class AdminTwoFactorMiddleware:
    """With ADMIN_REQUIRE_2FA on, a signed-in staff member reaches the admin only after a one-time password.

    Needs django_otp's OTPMiddleware before it. Pages open without the second factor: the login
    and logout forms, and the verification page itself (apps.core.twofactor), which refuses staff
    who have no confirmed device.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.ADMIN_REQUIRE_2FA and self._needs_second_factor(request):
            return redirect(f"{reverse('admin-2fa')}?next={request.get_full_path()}")
        return self.get_response(request)

    @staticmethod
    def _needs_second_factor(request: HttpRequest) -> bool:
        prefix = _admin_prefix()
        path = request.path_info
        if not path.startswith(prefix):
            return False
        if path in (reverse("admin:login"), reverse("admin:logout"), reverse("admin-2fa")):
            return False
        if path.startswith(f"{prefix}jsi18n"):
            return False
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_staff:
            return False  # the admin itself sends anonymous users to its login form
        return not user.is_verified()


class AdminLoginRateLimitMiddleware:
    """Bounds password guesses on the admin login form per client address (ADMIN_LOGIN_RATE per minute).

    DRF throttles cover the API; the admin's login form is a plain Django view.
    """

    WINDOW_SECONDS = 60

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self._guarded: tuple[str, ...] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return self.get_response(request)
        if self._guarded is None:  # resolved once, on the first POST (the URLconf is loaded by then)
            self._guarded = (reverse("admin:login"), reverse("admin-2fa"))
        if request.path_info in self._guarded:
            key = f"admin-login-rate:{request.path_info}:{client_address(request)}"
            count, seconds_left = fixed_window_incr(key, self.WINDOW_SECONDS)
            if count > settings.ADMIN_LOGIN_RATE:
                logger.warning("admin login rate limited", extra={"path": request.path_info})
                return HttpResponse(
                    "Too many sign-in attempts; wait a minute and try again.\n",
                    status=429,
                    content_type="text/plain",
                    headers={"Retry-After": str(seconds_left or self.WINDOW_SECONDS)},
                )
        return self.get_response(request)


# The ASGI scope key that keeps the server's own `send` (WebSocketMetricsMiddleware wraps it), so a room
# socket can find daphne's protocol behind it (apps.live.wire).
SERVER_SEND = "halobuzz.server_send"


class WebSocketMetricsMiddleware:
    """ASGI middleware for the websocket router: keeps halobuzz_websocket_connections current.

    Wrap the websocket application in halobuzz/asgi.py:
        "websocket": WebSocketMetricsMiddleware(JwtAuthMiddleware(OriginCheck(...)))
    A connection counts from the server's `websocket.accept` until the socket closes.
    """

    def __init__(self, app: Callable[..., Awaitable[Any]]) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> Any:
        if scope.get("type") != "websocket":
            return await self.app(scope, receive, send)
        accepted = False

        async def counting_send(message: dict) -> None:
            nonlocal accepted
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                metrics.ws_connection_opened()
            await send(message)

        try:
            # The server's own send rides along: room write rounds frame once for all sockets (apps.live.wire).
            return await self.app({**scope, SERVER_SEND: send}, receive, counting_send)
        finally:
            if accepted:
                metrics.ws_connection_closed()
