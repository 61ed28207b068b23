"""Notification tests push through the built-in FCM sandbox served over real HTTP by a live server:
google-auth's token exchange against the sandbox's token endpoint, then messages:send."""

import functools
import json

import pytest

from apps.notifications.fcm import fcm_sessions_forget
from apps.notifications.models import Device
from apps.notifications.sandbox import state
from apps.notifications.sandbox.keys import sandbox_key_info


@functools.cache
def _key_info() -> dict:
    """One RSA key per test session (generating one costs ~0.1 s); the token_uri is set per server."""
    return sandbox_key_info(token_uri="", project_id="halobuzz-test")


def point_at_sandbox(settings, base_url: str) -> None:
    settings.FCM_SANDBOX_ENABLED = True
    settings.FCM_PROJECT_ID = "halobuzz-test"
    settings.FCM_API_URL = f"{base_url}/sandbox/fcm"
    settings.FCM_CREDENTIALS_JSON = json.dumps({**_key_info(), "token_uri": f"{base_url}/sandbox/fcm/token"})
    settings.FCM_BACKOFF_SECONDS = 0.05
    settings.FCM_TIMEOUT = 20.0


@pytest.fixture
def fcm(live_server, settings):
    """FCM at the sandbox; every cached session (and so access token) forgotten before and after."""
    point_at_sandbox(settings, live_server.url)
    fcm_sessions_forget()
    yield state
    fcm_sessions_forget()


@pytest.fixture
def device_of():
    def make(user, token: str | None = None, locale: str = "") -> Device:
        return Device.objects.create(
            user=user, token=token or f"tok-{user.pk}-{user.username}", platform="android", locale=locale
        )

    return make
