"""Staff two-factor for the admin (ADMIN_REQUIRE_2FA) and the admin login rate limit."""

import pytest
from django.contrib.auth.models import Permission
from django.test import override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.factories import TEST_PASSWORD, UserFactory


@pytest.fixture
def staff(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_user", content_type__app_label="accounts"))
    return user


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


@override_settings(ADMIN_REQUIRE_2FA=True)
def test_staff_without_a_confirmed_device_is_refused_the_admin(client, staff):
    # given a staff member signed in with the right password but with only an unconfirmed device
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=False)
    client.force_login(staff)
    # when they open the admin
    response = client.get("/admin/")
    # then they are sent to the second factor, which refuses them
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/2fa/")
    refused = client.get(response["Location"])
    assert refused.status_code == 403
    assert b"no confirmed two-factor device" in refused.content
    assert client.get("/admin/accounts/user/").status_code == 302


@override_settings(ADMIN_REQUIRE_2FA=True)
def test_staff_with_a_confirmed_device_gets_in_after_a_valid_code(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.force_login(staff)
    assert client.get("/admin/").status_code == 302
    ok = client.post("/admin/2fa/", {"otp_token": current_code(device), "next": "/admin/accounts/user/"})
    assert ok.status_code == 302 and ok["Location"] == "/admin/accounts/user/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200


@override_settings(ADMIN_REQUIRE_2FA=True)
def test_a_wrong_code_keeps_staff_out(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.force_login(staff)
    wrong = "000000" if current_code(device) != "000000" else "111111"
    response = client.post("/admin/2fa/", {"otp_token": wrong})
    assert response.status_code == 200 and b"not valid" in response.content
    assert client.get("/admin/").status_code == 302
    # django-otp then throttles the device: even the right code waits out the delay
    assert client.post("/admin/2fa/", {"otp_token": current_code(device)}).status_code == 200


@override_settings(ADMIN_REQUIRE_2FA=True)
def test_next_cannot_send_a_verified_user_off_site(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.force_login(staff)
    response = client.post("/admin/2fa/", {"otp_token": current_code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"


@override_settings(ADMIN_REQUIRE_2FA=False)
def test_with_the_flag_off_a_password_is_enough(client, staff):
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


@override_settings(ADMIN_REQUIRE_2FA=True)
def test_the_flag_leaves_the_login_form_and_the_api_alone(client, api_client, staff, auth_client):
    assert client.get("/admin/login/").status_code == 200
    assert auth_client(staff).get("/api/v1/me/").status_code == 200
    signed_in = client.post("/admin/login/?next=/admin/", {"username": staff.username, "password": TEST_PASSWORD})
    assert signed_in.status_code == 302
    assert client.get("/admin/").status_code == 302  # but the admin itself wants the code


@override_settings(ADMIN_LOGIN_RATE=3)
def test_admin_login_guesses_are_rate_limited_per_address(client, staff):
    statuses = [
        client.post(
            "/admin/login/", {"username": staff.username, "password": "wrong"}, REMOTE_ADDR="198.51.100.4"
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    # another address is not affected
    other = client.post("/admin/login/", {"username": staff.username, "password": "wrong"}, REMOTE_ADDR="198.51.100.5")
    assert other.status_code == 200
