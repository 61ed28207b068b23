"""One time format: every timestamp the API answers is ISO 8601 in UTC with `Z`, to the millisecond;
dates stay dates; the admin keeps showing Kathmandu time.

Every API test feeds the same check too: the `api_client` and `auth_client` fixtures walk each JSON
answer (tests/conftest.py, tests/timestamps.py).
"""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.services import user_ban
from apps.core.timestamps import iso_utc
from apps.payments.models import Payment
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.live.factories import LiveStreamFactory
from tests.payments.factories import CoinPackageFactory
from tests.timestamps import UTC_TIMESTAMP, timestamps_off_format

# A moment whose Kathmandu wall clock (UTC+05:45) differs from UTC's in date and hour.
LATE_EVENING_UTC = datetime(2026, 3, 1, 20, 30, 15, 123456, tzinfo=UTC)


def parsed(value: str) -> datetime:
    assert UTC_TIMESTAMP.match(value), value
    return datetime.fromisoformat(value)


def test_the_helper_writes_utc_with_z_to_the_millisecond():
    kathmandu = LATE_EVENING_UTC.astimezone(datetime.now().astimezone().tzinfo)  # any offset in, UTC out
    assert iso_utc(LATE_EVENING_UTC) == "2026-03-01T20:30:15.123Z"
    assert iso_utc(kathmandu) == "2026-03-01T20:30:15.123Z"
    assert iso_utc(LATE_EVENING_UTC.replace(microsecond=0)) == "2026-03-01T20:30:15.000Z"
    assert iso_utc(None) is None


def test_the_walker_flags_every_other_offset_and_leaves_dates_and_text_alone():
    body = {
        "a": "2026-03-02T02:15:15.123+05:45",
        "b": [{"c": "2026-03-01T20:30:15+00:00"}, "2026-03-01T20:30:15"],
        "ok": "2026-03-01T20:30:15.123Z",
        "date": "2026-03-01",
        "text": "2026-03-01 20:30 at the party!",
    }
    assert timestamps_off_format(body) == [
        "$.a: 2026-03-02T02:15:15.123+05:45",
        "$.b[0].c: 2026-03-01T20:30:15+00:00",
        "$.b[1]: 2026-03-01T20:30:15",
    ]


@pytest.mark.django_db
def test_sign_up_answers_date_joined_in_utc_and_the_date_of_birth_as_a_date():
    # given a visitor signing up (a plain client: the walker must not be what fails here)
    response = APIClient().post(
        "/api/v1/auth/signup/",
        {"username": "sita", "password": TEST_PASSWORD, "email": "sita@example.com", "date_of_birth": "1996-01-15"},
        format="json",
    )

    # then the time is UTC with Z and names the stored instant; the date stays a date
    assert response.status_code == 201, response.json()
    user = response.json()["user"]
    stored = User.objects.get(username="sita").date_joined
    assert abs(parsed(user["date_joined"]) - stored) < timedelta(milliseconds=1)
    assert user["date_of_birth"] == "1996-01-15"


@pytest.mark.django_db
def test_a_payment_and_its_replay_answer_utc(user, settings):
    # given eSewa's test keys, a coin package and a signed-in buyer (starting an eSewa payment only signs a form)
    settings.ESEWA_PRODUCT_CODE, settings.ESEWA_SECRET_KEY = "EPAYTEST", "8gBm/:&EnhH.1/q"
    package = CoinPackageFactory()
    client = APIClient()
    client.force_authenticate(user)
    body = {"package": package.pk, "gateway": "esewa"}

    # when the payment starts, is read back, and the request is retried with its key
    created = client.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    detail = client.get(f"/api/v1/payments/{created.json()['id']}/")
    replay = client.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="t-1")

    # then every answer carries the same UTC instant
    assert created.status_code == 201, created.json()
    stored = Payment.objects.get(pk=created.json()["id"]).created_at
    assert abs(parsed(created.json()["created_at"]) - stored) < timedelta(milliseconds=1)
    assert detail.json()["created_at"] == created.json()["created_at"]
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == created.json()


@pytest.mark.django_db
def test_live_streams_answer_started_at_in_utc(user):
    # given a live stream that started late in the evening (UTC)
    LiveStreamFactory(started_at=LATE_EVENING_UTC)
    client = APIClient()
    client.force_authenticate(user)

    # when a viewer lists the live streams (a cached list) and opens one
    active = client.get("/api/v1/streams/active/").json()["results"]
    detail = client.get(f"/api/v1/streams/{active[0]['id']}/").json()

    # then both say the same instant, in UTC with Z
    assert active[0]["started_at"] == detail["started_at"] == "2026-03-01T20:30:15.123Z"
    assert not timestamps_off_format(detail)


@pytest.mark.django_db
def test_a_time_inside_an_error_is_utc_too(api_client):
    # given a banned user
    banned = UserFactory(username="kale")
    user_ban(user=banned, until=LATE_EVENING_UTC + timedelta(days=3650), reason="spam")

    # when they try to sign in
    response = APIClient().post("/api/v1/auth/login/", {"identifier": "kale", "password": TEST_PASSWORD}, format="json")

    # then the error's details name the end of the ban in UTC with Z
    assert response.status_code == 403 and response.json()["code"] == "account_banned"
    assert response.json()["details"]["banned_until"] == "2036-02-27T20:30:15.123Z"


@pytest.mark.django_db
def test_the_admin_still_shows_kathmandu_time(admin_client):
    # given a user who joined late in the evening, UTC (early next morning in Kathmandu)
    joined = UserFactory(date_joined=LATE_EVENING_UTC)

    # when staff open the user in the admin
    page = admin_client.get(f"/admin/accounts/user/{joined.pk}/change/").content.decode()

    # then the page shows the Kathmandu wall clock: 2 March, 2:15 a.m.
    assert "March 2, 2026, 2:15 a.m." in page
