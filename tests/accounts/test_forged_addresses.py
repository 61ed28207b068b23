"""Rate limits and the login lockout hold against a made-up X-Forwarded-For: clients are known by
the address our own proxies saw (TRUSTED_PROXY_COUNT), and a locked account stays locked whatever
the request says about itself."""

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.accounts.factories import TEST_PASSWORD
from tests.core.errors import assert_error

ROOT = Path(__file__).resolve().parents[2]
NO_LOCKOUT = {"LOGIN_LOCKOUT_FAILURES": 10_000}


def rates(**scoped: str) -> dict:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scoped},
    }


def login(client: APIClient, identifier: str, password: str, **headers: str):
    return client.post(
        "/api/v1/auth/login/", {"identifier": identifier, "password": password}, format="json", **headers
    )


def signup(client: APIClient, n: int, **headers: str):
    body = {"username": f"forger{n}", "password": "sagarmatha-sunrise-8848", "email": f"forger{n}@example.com"}
    return client.post("/api/v1/auth/signup/", body, format="json", **headers)


@pytest.mark.django_db
@pytest.mark.parametrize("trusted", [0, 1])
def test_a_made_up_forwarded_for_does_not_reset_the_login_throttle(user, trusted):
    # Direct (0 proxies), or behind nginx (1), which sets the header to the peer it saw.
    client = APIClient(REMOTE_ADDR="10.1.0.9")
    seen = {"HTTP_X_FORWARDED_FOR": "203.0.113.7"} if trusted else {}
    with override_settings(TRUSTED_PROXY_COUNT=trusted, REST_FRAMEWORK=rates(login="20/min"), **NO_LOCKOUT):
        for _ in range(20):
            assert_error(login(client, user.username, "guess", **seen), 401, "invalid_credentials")
        assert_error(login(client, user.username, "guess", **seen), 429, "throttled")
        # the client adds its own entries (a proxy that appends would pass them on, left of the real one)
        for forged in ("198.51.100.1", "198.51.100.1, 198.51.100.2", "198.51.100.3, 203.0.113.7"):
            header = f"{forged}, {seen['HTTP_X_FORWARDED_FOR']}" if trusted else forged
            response = login(client, user.username, TEST_PASSWORD, HTTP_X_FORWARDED_FOR=header)
            assert_error(response, 429, "throttled")
    user.refresh_from_db()
    assert user.last_login is None


@pytest.mark.django_db
def test_a_made_up_forwarded_for_does_not_reset_the_signup_throttle():
    client = APIClient(REMOTE_ADDR="10.1.0.10")
    with override_settings(REST_FRAMEWORK=rates(signup="2/hour")):
        assert signup(client, 1).status_code == 201
        assert signup(client, 2).status_code == 201
        assert_error(signup(client, 3), 429, "throttled")
        assert_error(signup(client, 4, HTTP_X_FORWARDED_FOR="198.51.100.1"), 429, "throttled")


@pytest.mark.django_db
def test_behind_the_proxy_clients_are_told_apart_by_the_address_it_saw():
    client = APIClient(REMOTE_ADDR="10.1.0.2")  # every request comes from nginx
    with override_settings(TRUSTED_PROXY_COUNT=1, REST_FRAMEWORK=rates(signup="1/hour")):
        assert signup(client, 1, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 201
        assert_error(signup(client, 2, HTTP_X_FORWARDED_FOR="203.0.113.1"), 429, "throttled")
        assert signup(client, 3, HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 201


def test_nginx_replaces_the_forwarded_for_header_and_the_deployments_trust_one_proxy():
    nginx = (ROOT / "deploy/nginx/halobuzz.conf").read_text()
    assert "$proxy_add_x_forwarded_for" not in nginx
    assert nginx.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2  # /ws/ and /
    assert 'TRUSTED_PROXY_COUNT: "1"' in (ROOT / "deploy/compose.yaml").read_text()
    assert 'TRUSTED_PROXY_COUNT: "1"' in (ROOT / "deploy/k8s/config.yaml").read_text()
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT


@pytest.mark.django_db
@override_settings(LOGIN_LOCKOUT_FAILURES=3, LOGIN_LOCKOUT_SECONDS=60)
def test_an_account_locks_after_failures_whatever_the_address(user):
    for n in range(2):
        assert_error(login(APIClient(REMOTE_ADDR=f"10.2.0.{n}"), user.username, "guess"), 401, "invalid_credentials")
    # the third failure locks the account
    body = assert_error(login(APIClient(REMOTE_ADDR="10.2.0.3"), user.username, "guess"), 429, "login_locked")
    assert body["details"]["retry_after"] == 60

    # the right password, from a new address with a made-up header, is refused without being checked
    response = login(APIClient(REMOTE_ADDR="10.2.0.4"), user.username, TEST_PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4")
    body = assert_error(response, 429, "login_locked")
    assert 0 < body["details"]["retry_after"] <= 60
    assert response["Retry-After"] == str(body["details"]["retry_after"])
    # by email too: the lock is the account's, not the identifier's
    assert_error(login(APIClient(), user.email, TEST_PASSWORD), 429, "login_locked")
    user.refresh_from_db()
    assert user.last_login is None


@pytest.mark.django_db
@override_settings(LOGIN_LOCKOUT_FAILURES=2, LOGIN_LOCKOUT_SECONDS=1, LOGIN_LOCKOUT_MAX_SECONDS=3)
def test_locks_back_off_and_a_success_resets_them(user):
    client = APIClient()
    assert_error(login(client, user.username, "guess"), 401)
    assert assert_error(login(client, user.username, "guess"), 429, "login_locked")["details"]["retry_after"] == 1
    time.sleep(1.1)
    # the next run of failures locks for twice as long, then the maximum
    assert_error(login(client, user.username, "guess"), 401)
    assert assert_error(login(client, user.username, "guess"), 429, "login_locked")["details"]["retry_after"] == 2
    time.sleep(2.1)
    assert_error(login(client, user.username, "guess"), 401)
    assert assert_error(login(client, user.username, "guess"), 429, "login_locked")["details"]["retry_after"] == 3
    time.sleep(3.1)
    # a success clears the count and the backoff
    assert login(client, user.username, TEST_PASSWORD).status_code == 200
    assert_error(login(client, user.username, "guess"), 401)
    assert assert_error(login(client, user.username, "guess"), 429, "login_locked")["details"]["retry_after"] == 1


@pytest.mark.django_db
@override_settings(LOGIN_LOCKOUT_FAILURES=2)
def test_identifiers_without_an_account_lock_the_same_way():
    client = APIClient()
    assert_error(login(client, "nobody-here", "guess"), 401, "invalid_credentials")
    assert_error(login(client, "NOBODY-here", "guess"), 429, "login_locked")
