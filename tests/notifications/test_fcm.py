"""Pushes end to end through the FCM sandbox over HTTP: token exchange, sends, dead tokens, retries."""

import time
from datetime import datetime, timedelta

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from apps.notifications import fcm as fcm_client
from apps.notifications.delivery import NEPAL, in_quiet_hours
from apps.notifications.models import Device, Kind, Notification
from apps.notifications.services import notification_create, preference_update
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _notify(capture, user, **params):
    with capture(execute=True):
        item, _ = notification_create(
            user_id=user.pk, kind=Kind.CASHOUT_RESULT, params={"variant": "approved", "coins": 700, **params}
        )
    item.refresh_from_db()
    return item


def test_a_push_exchanges_a_token_once_then_sends_with_it(fcm, device_of, django_capture_on_commit_callbacks):
    # given a user with one device
    user = UserFactory(language="en")
    device_of(user, token="device-a")
    # when two notifications are pushed
    first = _notify(django_capture_on_commit_callbacks, user)
    _notify(django_capture_on_commit_callbacks, user, coins=800)
    # then the sandbox exchanged one JWT for an access token and accepted both messages
    assert fcm.counts() == {"token_exchanges": 1, "accepted": 2, "refused": 0}
    newest = fcm.messages_recent()[0]
    assert newest["token"] == "device-a"
    assert newest["title"] == "Cash-out paid"
    assert newest["body"] == "Your cash-out of 800 coins was paid."
    assert first.pushed_at is not None


def test_an_expired_access_token_is_exchanged_again(fcm, device_of, django_capture_on_commit_callbacks):
    user = UserFactory()
    device_of(user)
    _notify(django_capture_on_commit_callbacks, user)
    # when the cached token reaches its expiry
    credentials = fcm_client.fcm_session().credentials
    credentials.expiry = datetime.utcnow() - timedelta(seconds=1)  # noqa: DTZ003 (google-auth keeps naive UTC)
    _notify(django_capture_on_commit_callbacks, user)
    assert fcm.counts()["token_exchanges"] == 2


def test_a_push_is_in_the_device_owners_language(fcm, device_of, django_capture_on_commit_callbacks):
    user = UserFactory(language="ne")
    device_of(user)
    _notify(django_capture_on_commit_callbacks, user)
    message = fcm.messages_recent()[0]
    assert message["title"] != "Cash-out paid"
    assert "७००" in message["body"]  # Devanagari digits in Nepali


@pytest.mark.parametrize("scenario", ["unregistered", "invalid_argument"])
def test_a_token_fcm_calls_dead_is_deleted(fcm, device_of, django_capture_on_commit_callbacks, scenario):
    # given two devices, one of which FCM no longer knows
    user = UserFactory()
    device_of(user, token="dead-token")
    device_of(user, token="live-token")
    fcm.scenario_set("dead-token", **{scenario: True})
    # when a notification is pushed
    item = _notify(django_capture_on_commit_callbacks, user)
    # then the dead token is gone, the other got it, and the item counts as pushed
    assert list(Device.objects.filter(user=user).values_list("token", flat=True)) == ["live-token"]
    assert fcm.counts()["accepted"] == 1
    assert fcm.counts()["refused"] == 1
    assert item.pushed_at is not None


def test_unavailable_is_retried_after_retry_after(fcm, device_of, django_capture_on_commit_callbacks):
    # given FCM answers 503 UNAVAILABLE with Retry-After: 1 to the first two sends
    user = UserFactory()
    device_of(user, token="busy")
    fcm.scenario_set("busy", unavailable=2, retry_after=1)
    # when a notification is pushed
    started = time.monotonic()
    item = _notify(django_capture_on_commit_callbacks, user)
    elapsed = time.monotonic() - started
    # then the third attempt went through, after waiting what FCM asked (twice 1 s, not our 0.05 s backoff)
    assert fcm.counts()["refused"] == 2
    assert fcm.counts()["accepted"] == 1
    assert elapsed >= 2.0
    assert item.pushed_at is not None
    assert Device.objects.filter(token="busy").exists()


def test_quota_exceeded_without_retry_after_backs_off_and_retries(fcm, device_of, django_capture_on_commit_callbacks):
    user = UserFactory()
    device_of(user, token="quota")
    fcm.scenario_set("quota", quota_exceeded=1)
    item = _notify(django_capture_on_commit_callbacks, user)
    assert fcm.counts() == {"token_exchanges": 1, "accepted": 1, "refused": 1}
    assert item.pushed_at is not None


def test_sends_are_given_up_after_the_last_attempt_and_the_token_kept(
    fcm, device_of, settings, django_capture_on_commit_callbacks
):
    settings.FCM_MAX_ATTEMPTS = 3
    user = UserFactory()
    device_of(user, token="down")
    fcm.scenario_set("down", internal=10, retry_after=0)
    item = _notify(django_capture_on_commit_callbacks, user)
    assert fcm.counts()["refused"] == 3
    assert fcm.counts()["accepted"] == 0
    assert item.pushed_at is None
    assert Device.objects.filter(token="down").exists()


def test_a_disabled_kind_sends_nothing(fcm, device_of, django_capture_on_commit_callbacks):
    # given a user who switched cash-out results off
    user = UserFactory()
    device_of(user)
    preference_update(user=user, cashout_result=False)
    # when one is announced
    item = _notify(django_capture_on_commit_callbacks, user)
    # then nothing reaches FCM (not even a token exchange), and the inbox still has it
    assert fcm.counts() == {"token_exchanges": 0, "accepted": 0, "refused": 0}
    assert item.pushed_at is None
    assert Notification.objects.filter(user=user).count() == 1


def test_quiet_hours_hold_pushes_back(fcm, device_of, django_capture_on_commit_callbacks):
    # given quiet hours around Nepal's current time
    user = UserFactory()
    device_of(user)
    now = timezone.localtime(timezone.now(), NEPAL)
    start, end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time()
    preference_update(user=user, quiet_hours_start=start, quiet_hours_end=end)
    _notify(django_capture_on_commit_callbacks, user)
    assert fcm.counts()["accepted"] == 0
    # and when they are over (moved to later today), pushes go out again
    later_start, later_end = (now + timedelta(hours=2)).time(), (now + timedelta(hours=3)).time()
    preference_update(user=user, quiet_hours_start=later_start, quiet_hours_end=later_end)
    _notify(django_capture_on_commit_callbacks, user)
    assert fcm.counts()["accepted"] == 1


def test_quiet_hours_may_cross_midnight():
    start, end = datetime(2026, 1, 1, 22, 0).time(), datetime(2026, 1, 1, 7, 0).time()
    at = lambda h, m: datetime(2026, 1, 1, h, m, tzinfo=NEPAL)  # noqa: E731
    assert in_quiet_hours(start, end, now=at(23, 30))
    assert in_quiet_hours(start, end, now=at(6, 59))
    assert not in_quiet_hours(start, end, now=at(7, 0))
    assert not in_quiet_hours(start, end, now=at(21, 59))


def test_the_sandbox_refuses_a_jwt_signed_by_another_key(fcm, live_server):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    info = fcm_client.credentials_info()
    now = int(time.time())
    claims = {"iss": info["client_email"], "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600}
    claims["scope"] = fcm_client.SCOPE
    assertion = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": info["private_key_id"]})
    response = requests.post(
        f"{live_server.url}/sandbox/fcm/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
        timeout=20,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert fcm.counts()["token_exchanges"] == 0


def test_the_sandbox_refuses_a_send_without_a_valid_access_token(fcm, live_server):
    response = requests.post(
        f"{live_server.url}/sandbox/fcm/v1/projects/halobuzz-test/messages:send",
        json={"message": {"token": "x", "notification": {"title": "t", "body": "b"}}},
        headers={"Authorization": "Bearer ya29.forged"},
        timeout=20,
    )
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert fcm.counts()["accepted"] == 0


def test_without_fcm_configured_the_inbox_still_fills_and_nothing_raises(
    settings, device_of, django_capture_on_commit_callbacks
):
    settings.FCM_SANDBOX_ENABLED = False
    settings.FCM_CREDENTIALS_JSON = ""
    settings.FCM_CREDENTIALS_FILE = ""
    fcm_client.fcm_sessions_forget()
    user = UserFactory()
    device_of(user)
    item = _notify(django_capture_on_commit_callbacks, user)
    assert item.pushed_at is None
    assert Device.objects.filter(user=user).exists()


def test_the_sandbox_page_lists_what_it_accepted(fcm, device_of, live_server, django_capture_on_commit_callbacks):
    user = UserFactory()
    device_of(user, token="page-device-token")
    _notify(django_capture_on_commit_callbacks, user)
    page = requests.get(f"{live_server.url}/sandbox/fcm/", timeout=20)
    assert page.status_code == 200
    assert "Cash-out paid" in page.text
    assert "page-device-token"[:24] in page.text


def test_the_sandbox_is_not_served_when_disabled(fcm, settings, live_server):
    settings.FCM_SANDBOX_ENABLED = False
    assert requests.get(f"{live_server.url}/sandbox/fcm/", timeout=20).status_code == 404
