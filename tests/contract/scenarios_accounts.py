"""Accounts: sign-up, tokens, the profile, follows and blocks."""

import re

from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.services import follow_create
from apps.accounts.twofactor import challenge_issue
from apps.notifications.services import digest_flush
from tests.accounts.factories import TEST_PASSWORD, UserFactory, sms_code_sent
from tests.contract.runner import Contract
from tests.contract.scenarios import drives
from tests.moderation.factories import banned_word


@drives("auth_signup", "auth_login", "auth_refresh", "auth_logout", "auth_logout_everywhere")
def tokens(contract: Contract) -> None:
    anonymous = contract.anonymous()
    signup = {
        "username": "contract_new",
        "password": "a-long-Pass-phrase-77",
        "date_of_birth": "1998-04-01",
        "email": "new@example.com",
    }
    contract.call("auth_signup", anonymous, status=201, body=contract.body("auth_signup", signup))
    contract.call("auth_signup", anonymous, status=400, code="invalid", body=contract.body("auth_signup", signup))
    # a name with a banned word, however spelt, is refused (the word is seeded by a migration, which a
    # transactional test's flush before this one may have emptied)
    banned_word("fuck", severity=85, inside_words=True)
    rude = {**signup, "username": "f_u_c_k_new", "email": "rude@example.com"}
    contract.call(
        "auth_signup", anonymous, status=400, code="name_not_allowed", body=contract.body("auth_signup", rude)
    )

    login = {"identifier": "contract_new", "password": "a-long-Pass-phrase-77"}
    tokens = contract.call("auth_login", anonymous, status=200, body=contract.body("auth_login", login))
    wrong = {**login, "password": "not-the-password"}
    contract.call("auth_login", anonymous, status=401, body=contract.body("auth_login", wrong))

    first = {"refresh": tokens.tokens.refresh}
    renewed = contract.call("auth_refresh", anonymous, status=200, body=contract.body("auth_refresh", first))
    contract.call(
        "auth_refresh", anonymous, status=401, code="token_invalid", body=contract.body("auth_refresh", first)
    )

    user = contract.package.AuthenticatedClient(
        base_url=contract.base_url, token=renewed.access, raise_on_unexpected_status=True
    )
    latest = {"refresh": renewed.refresh}
    contract.call("auth_logout", user, status=204, body=contract.body("auth_logout", latest))
    contract.call("auth_logout", user, status=401, code="token_not_valid", body=contract.body("auth_logout", latest))

    # logging out everywhere ends this session too: its access token is refused at once
    again = contract.call("auth_login", anonymous, status=200, body=contract.body("auth_login", login))
    everywhere = contract.package.AuthenticatedClient(
        base_url=contract.base_url, token=again.tokens.access, raise_on_unexpected_status=True
    )
    contract.call("auth_logout_everywhere", everywhere, status=204)
    contract.call("auth_logout_everywhere", everywhere, status=401, code="token_not_valid")


@drives("me_get", "me_update", "me_password_change")
def profile(contract: Contract) -> None:
    user = UserFactory()
    client = contract.as_user(user)
    contract.call("me_get", client, status=200)
    contract.call("me_update", client, status=200, body=contract.body("me_update", {"bio": "Namaste"}))
    bad_phone = contract.body("me_update", {"phone": "12345"})
    contract.call("me_update", client, status=400, code="invalid", body=bad_phone)
    change = {"old_password": TEST_PASSWORD, "new_password": "another-Long-pass-88"}
    wrong_old = {**change, "old_password": "not-the-password"}
    contract.call("me_password_change", client, status=400, body=contract.body("me_password_change", wrong_old))
    contract.call("me_password_change", client, status=204, body=contract.body("me_password_change", change))
    # the change ended every session, this one included
    contract.call("me_get", client, status=401, code="token_not_valid")


@drives("user_profile", "user_follow", "user_unfollow", "user_followers", "user_following")
def follows(contract: Contract) -> None:
    fan, star = UserFactory(), UserFactory()
    client = contract.as_user(fan)
    contract.call("user_follow", client, status=204, username=star.username)
    contract.call("user_follow", client, status=400, username=fan.username)
    contract.call("user_profile", client, status=200, username=star.username)
    contract.call("user_profile", client, status=404, code="not_found", username="nobody-here")
    contract.call("user_followers", client, status=200, username=star.username)
    contract.call("user_following", client, status=200, username=fan.username)
    contract.call("user_followers", client, status=404, code="not_found", username="nobody-here")
    contract.call("user_following", client, status=404, code="not_found", username="nobody-here")
    contract.call("user_unfollow", client, status=204, username=star.username)
    contract.call("user_unfollow", client, status=404, code="not_found", username="nobody-here")


@drives("user_block", "user_unblock", "me_blocked")
def blocks(contract: Contract) -> None:
    user, pest = UserFactory(), UserFactory()
    client = contract.as_user(user)
    contract.call("user_block", client, status=204, username=pest.username)
    contract.call("user_block", client, status=404, code="not_found", username="nobody-here")
    contract.call("me_blocked", client, status=200)
    contract.call("user_unblock", client, status=204, username=pest.username)
    contract.call("user_unblock", client, status=404, code="not_found", username="nobody-here")


@drives("auth_signup_phone_code", "auth_signup_phone")
def phone_signup(contract: Contract) -> None:
    anonymous = contract.anonymous()
    ask = {"phone": "9801112233"}
    contract.call("auth_signup_phone_code", anonymous, status=202, body=contract.body("auth_signup_phone_code", ask))
    contract.call(
        "auth_signup_phone_code",
        anonymous,
        status=429,
        code="code_resend_too_soon",
        body=contract.body("auth_signup_phone_code", ask),
    )
    landline = {"phone": "014412345"}
    contract.call(
        "auth_signup_phone_code",
        anonymous,
        status=400,
        code="invalid",
        body=contract.body("auth_signup_phone_code", landline),
    )
    code = sms_code_sent("9801112233")
    signup = {"phone": "9801112233", "code": code, "password": "a-long-Pass-phrase-77"}
    wrong = {**signup, "code": f"{(int(code) + 1) % 10**6:06d}"}
    contract.call(
        "auth_signup_phone", anonymous, status=400, code="code_invalid", body=contract.body("auth_signup_phone", wrong)
    )
    contract.call("auth_signup_phone", anonymous, status=201, body=contract.body("auth_signup_phone", signup))
    contract.call(
        "auth_signup_phone", anonymous, status=400, code="code_expired", body=contract.body("auth_signup_phone", signup)
    )


@drives("auth_password_reset", "auth_password_reset_confirm", "auth_email_confirm", "me_email_verify")
def password_reset(contract: Contract) -> None:
    anonymous = contract.anonymous()
    user = UserFactory(phone="+9779802223344", email="reset@example.com")
    contract.call(
        "auth_password_reset", anonymous, status=202, body=contract.body("auth_password_reset", {"phone": "9802223344"})
    )
    both = {"phone": "9802223344", "email": "reset@example.com"}
    contract.call(
        "auth_password_reset", anonymous, status=400, code="invalid", body=contract.body("auth_password_reset", both)
    )
    confirm = {"phone": "9802223344", "code": sms_code_sent("9802223344"), "new_password": "a-new-Pass-phrase-88"}
    contract.call(
        "auth_password_reset_confirm", anonymous, status=204, body=contract.body("auth_password_reset_confirm", confirm)
    )
    contract.call(
        "auth_password_reset_confirm",
        anonymous,
        status=400,
        code="code_expired",
        body=contract.body("auth_password_reset_confirm", confirm),
    )
    # the email link, confirmed through the API as an app that intercepts it would (the reset ended the
    # sessions: sign in afresh)
    user.refresh_from_db()
    contract.call("me_email_verify", contract.as_user(user), status=202)
    contract.call("me_email_verify", contract.as_user(user), status=429, code="code_resend_too_soon")
    token = re.search(r"/account/email/([^/\s]+)/", mail.outbox[-1].body).group(1)
    contract.call(
        "auth_email_confirm", anonymous, status=200, body=contract.body("auth_email_confirm", {"token": token})
    )
    contract.call(
        "auth_email_confirm",
        anonymous,
        status=400,
        code="code_expired",
        body=contract.body("auth_email_confirm", {"token": token}),
    )


@drives("me_phone_verify_code", "me_phone_verify", "me_contact_change", "me_contact_change_confirm")
def phone_verification(contract: Contract) -> None:
    user = UserFactory(phone="+9779803334455", phone_verified_at=None)
    client = contract.as_user(user)
    contract.call("me_phone_verify_code", client, status=202)
    code = sms_code_sent("9803334455")
    contract.call(
        "me_phone_verify",
        client,
        status=400,
        code="code_invalid",
        body=contract.body("me_phone_verify", {"code": f"{(int(code) + 1) % 10**6:06d}"}),
    )
    contract.call("me_phone_verify", client, status=200, body=contract.body("me_phone_verify", {"code": code}))
    contract.call("me_phone_verify_code", client, status=409, code="nothing_to_verify")
    change = {"password": TEST_PASSWORD, "phone": "9804445566"}
    contract.call(
        "me_contact_change",
        client,
        status=400,
        code="wrong_password",
        body=contract.body("me_contact_change", {**change, "password": "nope"}),
    )
    started = contract.call("me_contact_change", client, status=202, body=contract.body("me_contact_change", change))
    confirm = {
        "change_id": str(started.change_id),
        "new_code": sms_code_sent("9804445566"),
        "old_code": sms_code_sent("9803334455"),
    }
    stranger = contract.as_user(UserFactory())
    contract.call(
        "me_contact_change_confirm",
        stranger,
        status=404,
        code="change_not_found",
        body=contract.body("me_contact_change_confirm", confirm),
    )
    contract.call(
        "me_contact_change_confirm", client, status=200, body=contract.body("me_contact_change_confirm", confirm)
    )


def _totp_now(device: TOTPDevice, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


@drives("me_two_factor_setup", "me_two_factor_confirm", "auth_login_second_factor", "me_two_factor_disable")
def two_factor(contract: Contract) -> None:
    user = UserFactory()
    client = contract.as_user(user)
    contract.call(
        "me_two_factor_setup",
        client,
        status=400,
        code="wrong_password",
        body=contract.body("me_two_factor_setup", {"password": "nope"}),
    )
    contract.call(
        "me_two_factor_setup",
        client,
        status=201,
        body=contract.body("me_two_factor_setup", {"password": TEST_PASSWORD}),
    )
    device = TOTPDevice.objects.get(user=user)
    contract.call(
        "me_two_factor_confirm",
        client,
        status=400,
        code="second_factor_invalid",
        body=contract.body("me_two_factor_confirm", {"code": "000000"}),
    )
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None
    device.save()
    codes = contract.call(
        "me_two_factor_confirm",
        client,
        status=200,
        body=contract.body("me_two_factor_confirm", {"code": _totp_now(device)}),
    ).recovery_codes
    anonymous = contract.anonymous()
    login = contract.body("auth_login", {"identifier": user.username, "password": TEST_PASSWORD})
    contract.call("auth_login", anonymous, status=401, code="second_factor_required", body=login)
    challenge = "not-a-challenge"
    contract.call(
        "auth_login_second_factor",
        anonymous,
        status=401,
        code="token_invalid",
        body=contract.body("auth_login_second_factor", {"challenge": challenge, "code": codes[0]}),
    )
    challenge = challenge_issue(user=user)
    contract.call(
        "auth_login_second_factor",
        anonymous,
        status=200,
        body=contract.body("auth_login_second_factor", {"challenge": challenge, "code": codes[0]}),
    )
    disable = {"password": TEST_PASSWORD, "code": codes[1]}
    contract.call(
        "me_two_factor_disable",
        client,
        status=400,
        code="wrong_password",
        body=contract.body("me_two_factor_disable", {**disable, "password": "nope"}),
    )
    contract.call("me_two_factor_disable", client, status=204, body=contract.body("me_two_factor_disable", disable))


@drives("me_export", "me_data_export_request", "me_data_export", "me_deletion_request", "me_deletion_undo")
def deletion(contract: Contract) -> None:
    user = UserFactory()
    client = contract.as_user(user)
    contract.call("me_export", client, status=200)
    # built by the task (inline in tests) once the request committed
    export = contract.call("me_data_export_request", client, status=202)
    ready = contract.call("me_data_export", client, status=200, export_id=export.id)
    assert ready.status.value == "ready" and ready.download_url, ready
    stranger = contract.as_user(UserFactory())
    contract.call("me_data_export", stranger, status=404, code="data_export_not_found", export_id=export.id)
    contract.call("me_data_export_request", contract.anonymous(), status=401)
    wrong = contract.body("me_deletion_request", {"password": "not-the-password"})
    contract.call("me_deletion_request", client, status=400, code="wrong_password", body=wrong)
    right = contract.body("me_deletion_request", {"password": TEST_PASSWORD, "reason": "moving on"})
    contract.call("me_deletion_request", client, status=202, body=right)
    # every session ended (the account is inactive); signing in offers the undo, which signs in again
    contract.call("me_get", client, status=401, code="authentication_failed")
    anonymous = contract.anonymous()
    login = {"identifier": user.username, "password": TEST_PASSWORD}
    contract.call(
        "auth_login", anonymous, status=403, code="account_deletion_pending", body=contract.body("auth_login", login)
    )
    contract.call("me_deletion_undo", anonymous, status=200, body=contract.body("me_deletion_undo", login))
    contract.call(
        "me_deletion_undo",
        anonymous,
        status=409,
        code="deletion_not_pending",
        body=contract.body("me_deletion_undo", login),
    )


@drives(
    "notification_list",
    "notification_read",
    "notification_read_all",
    "notification_unread_count",
    "notification_device_register",
    "notification_device_unregister",
    "notification_preferences_get",
    "notification_preferences_update",
)
def notifications(contract: Contract) -> None:
    user, fan = UserFactory(), UserFactory()
    client = contract.as_user(user)
    follow_create(follower=fan, followee=user)
    digest_flush(user_id=user.pk, kind="new_follower")
    listed = contract.call("notification_list", client, status=200)
    (item,) = listed.results
    contract.call("notification_unread_count", client, status=200)
    contract.call(
        "notification_read", contract.as_user(fan), status=404, code="notification_not_found", notification_id=item.id
    )
    contract.call("notification_read", client, status=200, notification_id=item.id)
    contract.call("notification_read_all", client, status=200)
    device = contract.body("notification_device_register", {"token": "contract-device-token", "platform": "android"})
    contract.call("notification_device_register", client, status=200, body=device)
    gone = contract.body("notification_device_unregister", {"token": "contract-device-token"})
    contract.call("notification_device_unregister", client, status=204, body=gone)
    contract.call("notification_device_unregister", client, status=404, code="device_not_found", body=gone)
    contract.call("notification_preferences_get", client, status=200)
    quiet = contract.body("notification_preferences_update", {"go_live": False})
    contract.call("notification_preferences_update", client, status=200, body=quiet)
    half = contract.body("notification_preferences_update", {"quiet_hours_start": "22:00:00"})
    contract.call("notification_preferences_update", client, status=400, code="quiet_hours_invalid", body=half)
