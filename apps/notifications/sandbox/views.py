"""The sandbox's endpoints, shaped like Google's: POST token (RFC 7523 JWT bearer grant, as
oauth2.googleapis.com/token answers it), POST v1/projects/<id>/messages:send (FCM HTTP v1 bodies
and errors), plus a scenario control per registration token and a page of what was received.

Async and cache-only like the payments sandbox: nothing here waits on a thread of the server."""

import functools
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.csrf import csrf_exempt

from apps.notifications.fcm import SCOPE, credentials_info
from apps.notifications.sandbox import state

View = Callable[..., Coroutine[Any, Any, HttpResponse]]
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # noqa: S105  (the aud google-auth signs for)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def sandbox_view(view: View) -> View:
    @functools.wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.FCM_SANDBOX_ENABLED:
            raise Http404
        return await view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


@functools.lru_cache(maxsize=4)
def _public_key(private_key_pem: str) -> Any:
    return serialization.load_pem_private_key(private_key_pem.encode(), password=None).public_key()


def _trusted_key(key_id: str) -> tuple[str, Any] | None:
    """The (client_email, public key) of the deployment's service account if `key_id` is its key."""
    info = credentials_info()
    if info.get("private_key_id") != key_id:
        return None
    return info["client_email"], _public_key(info["private_key"])


def _oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


@sandbox_view
async def token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _oauth_error("invalid_request", "POST only.", 405)
    if request.POST.get("grant_type") != JWT_BEARER:
        return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
    assertion = request.POST.get("assertion", "")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        return _oauth_error("invalid_grant", "Invalid JWT: malformed.")
    trusted = _trusted_key(str(header.get("kid", "")))
    if header.get("alg") != "RS256" or trusted is None:
        return _oauth_error("invalid_grant", "Invalid JWT Signature.")
    email, public_key = trusted
    try:
        claims = jwt.decode(
            assertion,
            public_key,
            algorithms=["RS256"],
            audience=GOOGLE_TOKEN_AUDIENCE,
            issuer=email,
            options={"require": ["iat", "exp", "iss", "aud"]},
            leeway=30,
        )
    except jwt.PyJWTError as exc:
        return _oauth_error("invalid_grant", f"Invalid JWT: {exc}.")
    if int(claims["exp"]) - int(claims["iat"]) > 3600:
        return _oauth_error("invalid_grant", "Invalid JWT: lifetime over one hour.")
    if SCOPE not in str(claims.get("scope", "")).split():
        return _oauth_error("invalid_scope", "The firebase.messaging scope is required.")
    access_token = state.access_token_issue(client_email=email)
    return JsonResponse({"access_token": access_token, "expires_in": state.TOKEN_LIFETIME, "token_type": "Bearer"})


def _fcm_error(
    status: int, canonical: str, message: str, error_code: str = "", retry_after: Any = None
) -> JsonResponse:
    error: dict[str, Any] = {"code": status, "message": message, "status": canonical}
    if error_code:
        error["details"] = [{"@type": FCM_ERROR, "errorCode": error_code}]
    response = JsonResponse({"error": error}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    state.count("refused")
    return response


def _scenario_fault(device_token: str) -> JsonResponse | None:
    for ref in (device_token, state.ALL):
        scenario = state.scenario_get(ref)
        if not scenario:
            continue
        if scenario.get("unregistered"):
            return _fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        if scenario.get("invalid_argument"):
            return _fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        retry_after = scenario.get("retry_after")
        faults = (
            ("unavailable", 503, "UNAVAILABLE", "The service is currently unavailable."),
            ("quota_exceeded", 429, "RESOURCE_EXHAUSTED", "Quota exceeded for the device."),
            ("internal", 500, "INTERNAL", "Internal error encountered."),
        )
        for name, status, canonical, message in faults:
            limit = int(scenario.get(name) or 0)
            if limit and state.fault_take(ref, name, limit):
                code = "QUOTA_EXCEEDED" if name == "quota_exceeded" else canonical
                return _fcm_error(status, canonical, message, code, retry_after)
    return None


@sandbox_view
async def send(request: HttpRequest, project_id: str) -> HttpResponse:
    if request.method != "POST":
        return _fcm_error(405, "INVALID_ARGUMENT", "POST only.")
    bearer = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not state.access_token_valid(bearer):
        return _fcm_error(
            401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", "THIRD_PARTY_AUTH_ERROR"
        )
    if project_id != settings.FCM_PROJECT_ID:
        return _fcm_error(403, "PERMISSION_DENIED", "Permission denied on the project.", "SENDER_ID_MISMATCH")
    try:
        body = json.loads(request.body)
        message = body["message"]
        device_token = message["token"]
        notification = message.get("notification") or {}
        data = message.get("data") or {}
        if not isinstance(device_token, str) or not device_token or not isinstance(data, dict):
            raise TypeError
        if not all(isinstance(v, str) for v in data.values()):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return _fcm_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", "INVALID_ARGUMENT")
    fault = _scenario_fault(device_token)
    if fault is not None:
        return fault
    number = state.message_record(
        {
            "token": device_token[:24],
            "title": str(notification.get("title", "")),
            "body": str(notification.get("body", "")),
            "kind": data.get("kind", ""),
            "received_at": time.time(),
        }
    )
    return JsonResponse({"name": f"projects/{project_id}/messages/{number}"})


@sandbox_view
async def scenario(request: HttpRequest, device_token: str) -> HttpResponse:
    """GET / POST (merge JSON options) / DELETE the scenario of a registration token (`*`: all)."""
    if request.method == "DELETE":
        state.scenario_clear(device_token)
        return JsonResponse({"token": device_token, "scenario": {}})
    if request.method == "POST":
        try:
            options = json.loads(request.body or b"{}")
            if not isinstance(options, dict):
                raise ValueError("Send a JSON object.")
            state.scenario_set(device_token, **options)
        except ValueError as exc:
            return JsonResponse({"detail": str(exc), "options": state.SCENARIO_KEYS}, status=400)
    return JsonResponse(
        {"token": device_token, "scenario": state.scenario_get(device_token), "options": state.SCENARIO_KEYS}
    )


@sandbox_view
async def inbox(request: HttpRequest) -> HttpResponse:
    """What the sandbox accepted lately (the demo's window on pushes), newest first."""
    context = {"messages": state.messages_recent(), "counts": state.counts(), "project_id": settings.FCM_PROJECT_ID}
    if request.GET.get("format") == "json":
        return JsonResponse(context)
    return HttpResponse(render_to_string("notifications/fcm_sandbox.html", context))
