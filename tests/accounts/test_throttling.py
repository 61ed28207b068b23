"""Sign-up and login are throttled per client with the error shape and a Retry-After."""

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from apps.accounts.models import User
from tests.accounts.factories import TEST_PASSWORD
from tests.core.errors import assert_error, assert_nothing_written, db_snapshot


def rates(**scoped: str) -> dict:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scoped},
    }


def signup(client: APIClient, n: int):
    return client.post(
        "/api/v1/auth/signup/",
        {"username": f"newbie{n}", "password": "sagarmatha-sunrise-8848", "email": f"newbie{n}@example.com"},
        format="json",
    )


@pytest.mark.django_db
def test_signup_is_throttled_with_the_error_shape_and_retry_after():
    client = APIClient()
    with override_settings(REST_FRAMEWORK=rates(signup="2/hour")):
        # given two sign-ups from one address
        assert signup(client, 1).status_code == 201
        assert signup(client, 2).status_code == 201
        before = db_snapshot()

        # when a third comes
        response = signup(client, 3)

    # then it is refused with a retry time (under an hour), and no account is created
    body = assert_error(response, 429, "throttled")
    retry_after = body["details"]["retry_after"]
    assert isinstance(retry_after, int) and 3500 < retry_after <= 3600
    assert response["Retry-After"] == str(retry_after)
    assert_nothing_written(before)
    assert not User.objects.filter(username="newbie3").exists()


@pytest.mark.django_db
def test_signup_throttle_counts_per_client_address():
    with override_settings(REST_FRAMEWORK=rates(signup="1/hour")):
        assert signup(APIClient(REMOTE_ADDR="10.0.0.1"), 1).status_code == 201
        assert_error(signup(APIClient(REMOTE_ADDR="10.0.0.1"), 2), 429, "throttled")
        assert signup(APIClient(REMOTE_ADDR="10.0.0.2"), 3).status_code == 201


@pytest.mark.django_db
def test_login_is_throttled_even_with_the_right_password(user):
    client = APIClient()
    with override_settings(REST_FRAMEWORK=rates(login="3/min")):
        # given three failed guesses
        for _ in range(3):
            assert_error(
                client.post("/api/v1/auth/login/", {"identifier": user.username, "password": "guess"}, format="json"),
                401,
                "invalid_credentials",
            )
        # when the right password comes next
        response = client.post(
            "/api/v1/auth/login/", {"identifier": user.username, "password": TEST_PASSWORD}, format="json"
        )

    # then the throttle refuses it before checking anything
    body = assert_error(response, 429, "throttled")
    assert 0 < body["details"]["retry_after"] <= 60
    assert int(response["Retry-After"]) == body["details"]["retry_after"]
    user.refresh_from_db()
    assert user.last_login is None
