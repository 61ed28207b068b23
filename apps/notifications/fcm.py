"""Firebase Cloud Messaging over HTTP v1 (https://firebase.google.com/docs/cloud-messaging/send/v1-api).

google-auth does the OAuth2 part: it signs the service account's JWT, exchanges it at the key's
`token_uri` for an access token and keeps that token until it expires (AuthorizedSession refreshes
it when it is about to, and once more on a 401). We then POST one message per device to
`<FCM_API_URL>/v1/projects/<project>/messages:send`. firebase-admin is not used: its messaging
client hard-codes https://fcm.googleapis.com (no way to reach the offline sandbox) and adds little
over this for single sends. With the sandbox enabled, FCM_API_URL and the key's token_uri point at
apps.notifications.sandbox, which speaks the same protocol.
"""

import json
import logging
import os
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import google.auth.transport.requests
import requests
from django.conf import settings
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

logger = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# Tokens FCM no longer accepts: the app was uninstalled or the token is malformed.
DROP_CODES = frozenset({"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"})
# Worth another try later (FCM's guidance: exponential backoff, Retry-After when given).
RETRY_CODES = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"})


class Outcome(StrEnum):
    SENT = "sent"
    DROP_TOKEN = "drop_token"  # noqa: S105 (an outcome, not a secret)
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    error_code: str = ""
    retry_after: float | None = None
    message_name: str = ""


class FcmNotConfigured(Exception):
    pass


class _Credentials(service_account.Credentials):
    """google-auth's service account credentials without the Regional Access Boundary lookup: that
    asks Google's IAM API (iamcredentials.googleapis.com) in a background thread which regions the
    account may reach, for an x-allowed-locations header that FCM's global endpoint does not need;
    it would also call out of an offline deployment using the sandbox."""

    def _is_regional_access_boundary_lookup_required(self) -> bool:
        return False


_sessions: dict[tuple[Any, ...], AuthorizedSession] = {}
_sessions_lock = threading.Lock()


def credentials_info() -> dict[str, Any]:
    """The service account key: FCM_CREDENTIALS_JSON, else the file FCM_CREDENTIALS_FILE, else (sandbox
    only) a key generated for the sandbox at first use."""
    if settings.FCM_CREDENTIALS_JSON:
        return json.loads(settings.FCM_CREDENTIALS_JSON)
    path = settings.FCM_CREDENTIALS_FILE
    if not path and settings.FCM_SANDBOX_ENABLED:
        from apps.notifications.sandbox.keys import sandbox_credentials_ensure

        path = str(sandbox_credentials_ensure())
    if not settings.FCM_PROJECT_ID or not path or not Path(path).exists():
        raise FcmNotConfigured("Set FCM_PROJECT_ID and FCM_CREDENTIALS_JSON or FCM_CREDENTIALS_FILE.")
    return json.loads(Path(path).read_text())


def fcm_session() -> AuthorizedSession:
    """This process's authorised session (its access token cached until expiry, connections kept alive)."""
    info = credentials_info()
    key = (os.getpid(), info["client_email"], info["private_key_id"], info["token_uri"])
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            credentials = _Credentials.from_service_account_info(info, scopes=[SCOPE])
            session = AuthorizedSession(credentials)
            adapter = requests.adapters.HTTPAdapter(
                pool_connections=4, pool_maxsize=max(settings.FCM_SEND_CONCURRENCY, 10)
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[key] = session
    return session


def fcm_sessions_forget() -> None:
    """Drop cached sessions (tests change keys and URLs between runs)."""
    with _sessions_lock:
        for session in _sessions.values():
            session.close()
        _sessions.clear()


def send_url() -> str:
    return f"{settings.FCM_API_URL.rstrip('/')}/v1/projects/{settings.FCM_PROJECT_ID}/messages:send"


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(float(raw), 0.0)
    except ValueError:
        return None  # an HTTP date: FCM sends seconds; fall back to our backoff


def _error_code(response: requests.Response) -> str:
    """The FcmError errorCode of an error body, else its canonical status (NOT_FOUND, UNAVAILABLE...)."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return ""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("FcmError"):
            return str(detail.get("errorCode", ""))
    return str(error.get("status", ""))


def fcm_token_ensure(session: AuthorizedSession) -> None:
    """Exchange for an access token now unless a valid one is cached, so that the threads sharing
    the session do not each exchange one at once."""
    with _sessions_lock:
        if not session.credentials.valid:
            session.credentials.refresh(google.auth.transport.requests.Request())


def fcm_send(
    *, token: str, title: str, body: str, data: dict[str, str], session: AuthorizedSession | None = None
) -> SendResult:
    """Send one notification message to one registration token and classify the answer."""
    message = {
        "message": {
            "token": token,
            "notification": {"title": title, "body": body},
            "data": data,
            "android": {"priority": "high"},
            "apns": {"headers": {"apns-priority": "10"}},
        }
    }
    try:
        response = (session or fcm_session()).post(send_url(), json=message, timeout=settings.FCM_TIMEOUT)
    except requests.RequestException as exc:
        logger.warning("fcm send failed to connect", extra={"error": type(exc).__name__})
        return SendResult(Outcome.RETRY, error_code="CONNECTION")
    if response.status_code == 200:
        return SendResult(Outcome.SENT, message_name=str(response.json().get("name", "")))
    code = _error_code(response)
    if code in DROP_CODES or response.status_code == 404:
        return SendResult(Outcome.DROP_TOKEN, error_code=code or "NOT_FOUND")
    if code in RETRY_CODES or response.status_code == 429 or response.status_code >= 500:
        return SendResult(
            Outcome.RETRY, error_code=code or str(response.status_code), retry_after=_retry_after(response)
        )
    logger.error("fcm refused a message", extra={"status": response.status_code, "error_code": code})
    return SendResult(Outcome.FAILED, error_code=code or str(response.status_code))
