"""Users' two-step sign-in: TOTP (django-otp) with recovery codes shown once."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.factories import TEST_PASSWORD, UserFactory


def current_code(device: TOTPDevice, *, offset: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=offset):06d}"


@pytest.fixture
def enrolled(db, auth_client):
    """A user with a confirmed authenticator; returns (user, recovery codes)."""
    user = UserFactory()
    client = auth_client(user)
    response = client.post("/api/v1/me/2fa/totp/", {"password": TEST_PASSWORD}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["otpauth_url"].startswith("otpauth://totp/")
    device = TOTPDevice.objects.get(user=user)
    response = client.post("/api/v1/me/2fa/totp/confirm/", {"code": current_code(device)}, format="json")
    assert response.status_code == 200, response.json()
    return user, response.json()["recovery_codes"]


def _login(api_client, user):
    return api_client.post(
        "/api/v1/auth/login/", {"identifier": user.username, "password": TEST_PASSWORD}, format="json"
    )


def test_setup_needs_the_password(db, auth_client):
    response = auth_client(UserFactory()).post("/api/v1/me/2fa/totp/", {"password": "nope"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "wrong_password"
    assert not TOTPDevice.objects.exists()


def test_recovery_codes_are_stored_hashed(enrolled):
    user, codes = enrolled
    assert len(codes) == 10
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(stored) == 10 and not stored & set(codes)


def test_login_then_needs_the_second_factor(enrolled, api_client):
    user, _ = enrolled
    response = _login(api_client, user)
    assert response.status_code == 401 and response.json()["code"] == "second_factor_required"
    assert "tokens" not in response.json()
    challenge = response.json()["details"]["challenge"]
    device = TOTPDevice.objects.get(user=user)
    # the code used at confirmation cannot be replayed: take the next step's code
    response = api_client.post(
        "/api/v1/auth/login/2fa/", {"challenge": challenge, "code": current_code(device, offset=1)}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["tokens"]["access"]


def test_recovery_code_works_once(enrolled, api_client):
    user, codes = enrolled
    challenge = _login(api_client, user).json()["details"]["challenge"]
    first = api_client.post("/api/v1/auth/login/2fa/", {"challenge": challenge, "code": codes[0]}, format="json")
    assert first.status_code == 200
    again = api_client.post("/api/v1/auth/login/2fa/", {"challenge": challenge, "code": codes[0]}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "second_factor_invalid"


def test_wrong_codes_lock_the_step(enrolled, api_client, settings):
    settings.SECOND_FACTOR_MAX_FAILURES = 2
    user, codes = enrolled
    challenge = _login(api_client, user).json()["details"]["challenge"]
    for _ in range(2):
        response = api_client.post("/api/v1/auth/login/2fa/", {"challenge": challenge, "code": "000000"}, format="json")
        assert response.json()["code"] == "second_factor_invalid"
    response = api_client.post("/api/v1/auth/login/2fa/", {"challenge": challenge, "code": codes[1]}, format="json")
    assert response.status_code == 429 and response.json()["code"] == "verification_locked"


def test_forged_or_stale_challenge_is_refused(enrolled, api_client, auth_client):
    user, codes = enrolled
    challenge = _login(api_client, user).json()["details"]["challenge"]
    forged = api_client.post("/api/v1/auth/login/2fa/", {"challenge": challenge + "x", "code": codes[0]}, format="json")
    assert forged.status_code == 401 and forged.json()["code"] == "token_invalid"
    # logout-everywhere (a password reset too) voids challenges issued before it
    auth_client(user).post("/api/v1/auth/logout-all/")
    stale = api_client.post("/api/v1/auth/login/2fa/", {"challenge": challenge, "code": codes[0]}, format="json")
    assert stale.status_code == 401


def test_disable_needs_password_and_code(enrolled, auth_client, api_client):
    user, codes = enrolled
    client = auth_client(user)
    response = client.post("/api/v1/me/2fa/disable/", {"password": TEST_PASSWORD, "code": "000000"}, format="json")
    assert response.status_code == 400
    response = client.post("/api/v1/me/2fa/disable/", {"password": TEST_PASSWORD, "code": codes[2]}, format="json")
    assert response.status_code == 204, response.json()
    assert _login(api_client, user).status_code == 200
