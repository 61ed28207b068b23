"""Sign-up by phone, password reset, verification and contact change, end to end through the Sparrow
SMS sandbox served over real HTTP by a live server (the app speaks Sparrow's protocol to it)."""

import re
from datetime import timedelta

import pytest
import requests
from django.core import mail
from django.utils import timezone

from apps.accounts.models import User, VerificationCode
from apps.accounts.sms import sandbox
from apps.accounts.tasks import sms_code_send_task
from apps.accounts.verification import (
    Channel,
    Purpose,
    code_issue,
    phone_normalize,
    phone_normalize_for_sms,
    secret_hash,
)
from apps.core.sealing import seal, unseal
from tests.accounts.factories import TEST_PASSWORD, UserFactory, sms_code_sent, sms_point_at_sandbox

PHONE = "9801234567"
E164 = "+9779801234567"
NEW_PASSWORD = "a-brand-new-passphrase-77"


@pytest.fixture
def sms_sandbox(live_server, settings):
    """Point the SMS client at the sandbox on the live server."""
    sms_point_at_sandbox(settings, live_server.url)
    return live_server


def sms_code(number: str = PHONE) -> str:
    return sms_code_sent(number)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_phone_numbers_are_normalised_nepal_by_default():
    assert phone_normalize("980-123 4567") == E164
    assert phone_normalize("+977 9801234567") == E164
    assert phone_normalize("+1 415 555 2671") == "+14155552671"
    with pytest.raises(Exception, match="valid phone"):
        phone_normalize("12345")
    with pytest.raises(Exception, match="Nepali mobile"):
        phone_normalize_for_sms("014412345")  # a Kathmandu landline


def test_signup_by_phone_end_to_end(sms_sandbox, api_client):
    # given a code asked for a new phone
    response = api_client.post("/api/v1/auth/signup/phone/code/", {"phone": PHONE}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json() == {"expires_in": 600, "resend_in": 60}
    code = sms_code()
    # then only its hash is stored
    row = VerificationCode.objects.get(destination=E164)
    assert code not in row.secret_hash and row.secret_hash == secret_hash(code, destination=E164)
    # when the user signs up with it
    response = api_client.post(
        "/api/v1/auth/signup/phone/",
        {"phone": PHONE, "code": code, "password": TEST_PASSWORD, "date_of_birth": "1999-05-01"},
        format="json",
    )
    # then the account exists with a verified phone, and is signed in
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user"]["phone"] == E164 and body["user"]["contact_verified"] is True
    assert body["tokens"]["access"]
    assert User.objects.get(phone=E164).phone_verified_at is not None
    # and the code does not work twice
    again = api_client.post(
        "/api/v1/auth/signup/phone/",
        {"phone": PHONE, "code": code, "password": TEST_PASSWORD, "username": "second"},
        format="json",
    )
    assert again.status_code == 400 and again.json()["code"] == "code_expired"
    assert User.objects.count() == 1


def test_signup_by_phone_refused_code_leaves_nothing(sms_sandbox, api_client):
    api_client.post("/api/v1/auth/signup/phone/code/", {"phone": PHONE}, format="json")
    code = sms_code()
    response = api_client.post(
        "/api/v1/auth/signup/phone/",
        {"phone": PHONE, "code": other_code(code), "password": TEST_PASSWORD},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid" and response.json()["details"]["attempts_left"] == 4
    assert not User.objects.exists()


def test_username_signup_starts_unverified(db, api_client):
    response = api_client.post(
        "/api/v1/auth/signup/",
        {"username": "plain", "password": TEST_PASSWORD, "email": "plain@example.com"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["user"]["contact_verified"] is False


def test_password_reset_by_phone_ends_every_session(sms_sandbox, api_client, auth_client):
    # given a signed-in user with a phone
    user = UserFactory(phone=E164)
    old_session = auth_client(user)
    assert old_session.get("/api/v1/me/").status_code == 200
    # when they reset the password with the SMS code
    response = api_client.post("/api/v1/auth/password/reset/", {"phone": PHONE}, format="json")
    assert response.status_code == 202, response.json()
    response = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"phone": PHONE, "code": sms_code(), "new_password": NEW_PASSWORD},
        format="json",
    )
    # then the password is new, the phone counts as verified, the old session is gone
    assert response.status_code == 204, response.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and user.phone_verified_at is not None
    assert old_session.get("/api/v1/me/").status_code == 401
    login = api_client.post("/api/v1/auth/login/", {"identifier": E164, "password": NEW_PASSWORD}, format="json")
    assert login.status_code == 200


def test_password_reset_for_unknown_phone_answers_the_same_and_sends_nothing(sms_sandbox, api_client):
    response = api_client.post("/api/v1/auth/password/reset/", {"phone": PHONE}, format="json")
    assert response.status_code == 202
    assert sandbox.outbox() == [] and not VerificationCode.objects.exists()


def test_reset_code_of_one_phone_does_not_reset_another(sms_sandbox, api_client):
    victim = UserFactory(phone=E164)
    attacker = UserFactory(phone="+9779841234567")
    api_client.post("/api/v1/auth/password/reset/", {"phone": PHONE}, format="json")
    code = sms_code()
    response = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"phone": "9841234567", "code": code, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "code_expired"
    victim.refresh_from_db()
    attacker.refresh_from_db()
    assert victim.check_password(TEST_PASSWORD) and attacker.check_password(TEST_PASSWORD)


def test_expired_code_is_refused(sms_sandbox, api_client):
    UserFactory(phone=E164)
    api_client.post("/api/v1/auth/password/reset/", {"phone": PHONE}, format="json")
    VerificationCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"phone": PHONE, "code": sms_code(), "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "code_expired"


def test_a_code_takes_five_guesses_then_not_even_the_right_one(sms_sandbox, api_client):
    user = UserFactory(phone=E164)
    api_client.post("/api/v1/auth/password/reset/", {"phone": PHONE}, format="json")
    code = sms_code()
    payload = {"phone": PHONE, "new_password": NEW_PASSWORD}
    for left in (4, 3, 2, 1, 0):
        response = api_client.post(
            "/api/v1/auth/password/reset/confirm/", {**payload, "code": other_code(code)}, format="json"
        )
        assert response.json()["details"]["attempts_left"] == left
    response = api_client.post("/api/v1/auth/password/reset/confirm/", {**payload, "code": code}, format="json")
    assert response.status_code == 429 and response.json()["code"] == "verification_locked"
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)


def test_wrong_guesses_per_address_are_capped_across_phones(sms_sandbox, api_client, settings):
    settings.VERIFICATION_FAILURES_PER_ADDRESS_HOUR = 3
    for number in ("9801234567", "9841234567", "9851234567"):
        response = api_client.post(
            "/api/v1/auth/password/reset/confirm/",
            {"phone": number, "code": "123456", "new_password": NEW_PASSWORD},
            format="json",
        )
        assert response.status_code == 400
    response = api_client.post(
        "/api/v1/auth/password/reset/confirm/",
        {"phone": "9861234567", "code": "123456", "new_password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 429 and response.json()["code"] == "verification_locked"


def test_resend_waits_for_the_cooldown(sms_sandbox, api_client):
    assert api_client.post("/api/v1/auth/signup/phone/code/", {"phone": PHONE}, format="json").status_code == 202
    response = api_client.post("/api/v1/auth/signup/phone/code/", {"phone": "+977 980 1234567"}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "code_resend_too_soon" and 0 < response.json()["details"]["retry_after"] <= 61
    assert len(sandbox.outbox()) == 1


def test_sends_per_address_are_throttled(sms_sandbox, api_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "verification_send": "2/hour",
    }
    for number in ("9801234567", "9841234567"):
        assert api_client.post("/api/v1/auth/signup/phone/code/", {"phone": number}, format="json").status_code == 202
    response = api_client.post("/api/v1/auth/signup/phone/code/", {"phone": "9851234567"}, format="json")
    assert response.status_code == 429 and response.json()["code"] == "throttled"


def test_the_request_answers_once_queued_and_a_short_outage_is_retried(sms_sandbox, api_client, settings):
    # the provider answers 503 twice, then recovers
    settings.SMS_SEND_MAX_RETRIES = 3
    sandbox.scenario_set(PHONE, "outage", times=2)
    response = api_client.post("/api/v1/auth/signup/phone/code/", {"phone": PHONE}, format="json")
    assert response.status_code == 202, response.json()
    # the third attempt delivered the code, which works
    code = sms_code()
    assert len(sandbox.outbox()) == 1
    assert VerificationCode.objects.filter(destination=E164, secret_hash=secret_hash(code, destination=E164)).exists()


def test_a_long_outage_gives_up_after_the_retries_and_keeps_no_code(sms_sandbox, api_client, settings):
    settings.SMS_SEND_MAX_RETRIES = 2
    sandbox.scenario_set(PHONE, "outage", times=3)  # one more failure than there are attempts
    response = api_client.post("/api/v1/auth/signup/phone/code/", {"phone": PHONE}, format="json")
    assert response.status_code == 202
    assert sandbox.outbox() == []
    assert not VerificationCode.objects.exists()
    # the cooldown still holds for the user's next ask, retries or not
    again = api_client.post("/api/v1/auth/signup/phone/code/", {"phone": PHONE}, format="json")
    assert again.status_code == 429 and again.json()["code"] == "code_resend_too_soon"


def test_a_documented_refusal_is_not_retried_and_keeps_no_code(sms_sandbox, api_client, settings):
    settings.SMS_SEND_MAX_RETRIES = 3
    # one refusal (1013, insufficient credits): a retry would get through, so none must happen
    sandbox.scenario_set(PHONE, "insufficient_credits", times=1)
    response = api_client.post("/api/v1/auth/signup/phone/code/", {"phone": PHONE}, format="json")
    assert response.status_code == 202
    assert sandbox.outbox() == []
    assert not VerificationCode.objects.exists()


def test_a_change_whose_old_number_cannot_be_texted_is_dropped_whole(sms_sandbox, auth_client):
    user = UserFactory(phone=E164, phone_verified_at=timezone.now())
    sandbox.scenario_set(PHONE, "insufficient_credits")  # the old number refuses
    response = auth_client(user).post(
        "/api/v1/me/contact/change/", {"password": TEST_PASSWORD, "phone": "9841234567"}, format="json"
    )
    assert response.status_code == 202, response.json()
    # the new half alone must never confirm the change
    assert not VerificationCode.objects.exists()


def test_a_queued_code_replaced_before_sending_is_not_sent(sms_sandbox):
    first = code_issue(channel=Channel.SMS, destination=E164, purpose=Purpose.SIGNUP, check_limits=False)
    code_issue(channel=Channel.SMS, destination=E164, purpose=Purpose.SIGNUP, check_limits=False)
    result = sms_code_send_task.apply(args=[first.code.pk, seal("old code")])
    assert result.successful(), result.traceback
    assert result.result == "stale"
    assert sandbox.outbox() == []


def test_the_queued_task_carries_the_code_sealed_never_readable(sms_sandbox, api_client, monkeypatch):
    queued = []
    monkeypatch.setattr(sms_code_send_task, "delay", lambda *args: queued.append(args))
    response = api_client.post("/api/v1/auth/signup/phone/code/", {"phone": PHONE}, format="json")
    assert response.status_code == 202
    [(code_id, sealed_text)] = queued
    code = re.search(r"\d{6}", unseal(sealed_text, max_age_seconds=60)).group()
    # neither the broker's copy of the message nor a worker's log of its arguments shows the code
    assert code not in sealed_text and "HaloBuzz" not in sealed_text
    assert VerificationCode.objects.get(pk=code_id).secret_hash == secret_hash(code, destination=E164)


def test_a_code_whose_text_cannot_be_unsealed_is_discarded_not_sent(sms_sandbox, settings):
    issued = code_issue(channel=Channel.SMS, destination=E164, purpose=Purpose.SIGNUP, check_limits=False)
    sealed_elsewhere = seal("HaloBuzz code: 123456")
    settings.SECRET_KEY = "another-deployment-0123456789abcdef0123456789abcdef"
    result = sms_code_send_task.apply(args=[issued.code.pk, sealed_elsewhere])
    assert result.result == "stale"
    assert sandbox.outbox() == []
    assert not VerificationCode.objects.filter(pk=issued.code.pk).exists()


def test_sandbox_speaks_sparrows_refusals(sms_sandbox):
    url = f"{sms_sandbox.url}/sandbox/sparrow/v2/sms/"
    fields = {"token": sandbox.SANDBOX_TOKEN, "from": sandbox.SANDBOX_SENDER, "to": PHONE, "text": "hi"}
    assert requests.post(url, data={**fields, "token": "wrong"}, timeout=10).json() == {
        "response_code": 1002,
        "response": "Invalid Token",
    }
    missing = requests.post(url, data={k: v for k, v in fields.items() if k != "to"}, timeout=10)
    assert missing.status_code == 403 and missing.json()["response_code"] == 1000
    assert requests.post(url, data={**fields, "to": "12345"}, timeout=10).json()["response_code"] == 1011
    sent = requests.get(url, params={**fields, "to": f"{PHONE},9841234567"}, timeout=10)
    assert sent.status_code == 200 and sent.json()["count"] == 2 and sent.json()["response_code"] == 200
    assert "hi" in requests.get(f"{sms_sandbox.url}/sandbox/sparrow/outbox/?to={PHONE}", timeout=10).text


def test_verify_own_phone_and_not_anothers(sms_sandbox, auth_client):
    owner = UserFactory(phone=E164, phone_verified_at=None)
    other = UserFactory(phone="+9779841234567", phone_verified_at=None)
    assert auth_client(owner).post("/api/v1/me/phone/verify/code/").status_code == 202
    code = sms_code()
    # another user cannot use the owner's code
    response = auth_client(other).post("/api/v1/me/phone/verify/", {"code": code}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "code_expired"
    response = auth_client(owner).post("/api/v1/me/phone/verify/", {"code": code}, format="json")
    assert response.status_code == 200 and response.json()["phone_verified_at"] is not None
    other.refresh_from_db()
    assert other.phone_verified_at is None
    # a verified phone is not edited in place
    response = auth_client(owner).patch("/api/v1/me/", {"phone": "+9779851234567"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "contact_change_required"


def test_phone_change_needs_both_codes(sms_sandbox, auth_client):
    user = UserFactory(phone=E164, phone_verified_at=timezone.now())
    client = auth_client(user)
    response = client.post(
        "/api/v1/me/contact/change/", {"password": TEST_PASSWORD, "phone": "9841234567"}, format="json"
    )
    assert response.status_code == 202, response.json()
    change = response.json()
    assert change["confirm_old"] is True
    new_code, old_code = sms_code("9841234567"), sms_code(PHONE)
    # the new phone's code alone is not enough
    response = client.post(
        "/api/v1/me/contact/change/confirm/", {"change_id": change["change_id"], "new_code": new_code}, format="json"
    )
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.phone == E164
    # another user cannot confirm it
    intruder = auth_client(UserFactory())
    response = intruder.post(
        "/api/v1/me/contact/change/confirm/",
        {"change_id": change["change_id"], "new_code": new_code, "old_code": old_code},
        format="json",
    )
    assert response.status_code == 404 and response.json()["code"] == "change_not_found"
    response = client.post(
        "/api/v1/me/contact/change/confirm/",
        {"change_id": change["change_id"], "new_code": new_code, "old_code": old_code},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["phone"] == "+9779841234567" and response.json()["phone_verified_at"] is not None


def _link_token() -> str:
    return re.search(r"/account/email/([^/\s]+)/", mail.outbox[-1].body).group(1)


def test_email_verification_by_link_page(db, api_client, auth_client, client):
    user = UserFactory(email="sita@example.com")
    assert auth_client(user).post("/api/v1/me/email/verify/").status_code == 202
    token = _link_token()
    assert token not in VerificationCode.objects.get().secret_hash
    # opening the link only shows a form; the POST confirms
    assert client.get(f"/account/email/{token}/").status_code == 200
    user.refresh_from_db()
    assert user.email_verified_at is None
    page = client.post(f"/account/email/{token}/")
    assert 'data-state="confirmed"' in page.content.decode()
    user.refresh_from_db()
    assert user.email_verified_at is not None
    # a used link is dead
    response = api_client.post("/api/v1/auth/email/confirm/", {"token": token}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "code_expired"


def test_password_reset_by_email_link(db, api_client):
    user = UserFactory(email="gita@example.com")
    assert (
        api_client.post("/api/v1/auth/password/reset/", {"email": "GITA@example.com"}, format="json").status_code == 202
    )
    response = api_client.post(
        "/api/v1/auth/password/reset/confirm/", {"token": _link_token(), "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and user.email_verified_at is not None
    assert user.token_generation == 1


def test_email_change_applies_when_both_links_are_opened(db, auth_client, api_client):
    user = UserFactory(email="old@example.com", email_verified_at=timezone.now())
    response = auth_client(user).post(
        "/api/v1/me/contact/change/", {"password": TEST_PASSWORD, "email": "new@example.com"}, format="json"
    )
    assert response.status_code == 202
    links = {message.to[0]: re.search(r"/account/email/([^/\s]+)/", message.body).group(1) for message in mail.outbox}
    first = api_client.post("/api/v1/auth/email/confirm/", {"token": links["new@example.com"]}, format="json")
    assert first.json() == {"purpose": "change_new", "applied": False}
    user.refresh_from_db()
    assert user.email == "old@example.com"
    second = api_client.post("/api/v1/auth/email/confirm/", {"token": links["old@example.com"]}, format="json")
    assert second.json() == {"purpose": "change_old", "applied": True}
    user.refresh_from_db()
    assert user.email == "new@example.com"


def test_contact_change_needs_the_password(db, auth_client):
    user = UserFactory()
    response = auth_client(user).post(
        "/api/v1/me/contact/change/", {"password": "wrong", "email": "x@example.com"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "wrong_password"
    assert not mail.outbox
