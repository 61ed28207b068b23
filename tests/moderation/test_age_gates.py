"""Verified age where it matters: going live, cashing out and spending past the unverified allowance
need a verified age; an account whose age check estimated a possible minor (held, or rejected by a
moderator) cannot buy coins, gift or go live. Each refusal has its code and a message, in English
and Nepali, that says why and what to do."""

import uuid
from datetime import date

import pytest

from apps.accounts.models import User
from apps.gifts.models import GiftSend
from apps.live.models import Stream
from apps.payments.models import Payment
from apps.wallet.models import CashoutRequest
from apps.wallet.selectors import coins_balance
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.payments.factories import CoinPackageFactory
from tests.wallet.factories import fund, host_earns_from_a_gift, payout_ready

pytestmark = pytest.mark.django_db

UNVERIFIED, PENDING, REJECTED = (
    User.AgeVerification.UNVERIFIED,
    User.AgeVerification.PENDING_REVIEW,
    User.AgeVerification.REJECTED,
)


def _go_live(client, **headers):
    return client.post("/api/v1/streams/", {"title": "Evening songs"}, format="json", **headers)


def _gift(client, stream, gift, **body):
    return client.post(
        "/api/v1/gifts/send/",
        {"stream": stream.pk, "gift": gift.pk, **body},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )


def _buy(client, **headers):
    package = CoinPackageFactory(price_paisa=50_000, coins=500, bonus_coins=0)
    return client.post(
        "/api/v1/payments/",
        {"package": package.pk, "gateway": "esewa"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        **headers,
    )


def _cash_out(client, host, coins=1_000):
    body = {"coins": coins, "destination_id": payout_ready(host)}
    return client.post("/api/v1/wallet/cashouts/", body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


# --- Verified age required ----------------------------------------------------------------------


def test_unverified_adult_cannot_go_live_and_is_told_to_take_the_age_check(auth_client):
    # given an adult by date of birth who never took the age check
    host = UserFactory(age_verification=UNVERIFIED)
    # when they go live
    response = _go_live(auth_client(host))
    # then it is refused with what to do, and no stream exists
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "age_verification_required"
    assert body["message"].startswith("Going live needs a verified age") and "selfie age check" in body["message"]
    assert body["details"] == {"age_verification": "unverified", "next_step": "age_check"}
    assert not Stream.objects.filter(host=host).exists()


def test_the_refusal_is_in_nepali_for_a_nepali_reader(auth_client):
    host = UserFactory(age_verification=UNVERIFIED)
    response = _go_live(auth_client(host), HTTP_ACCEPT_LANGUAGE="ne")
    assert response.status_code == 403 and response.json()["code"] == "age_verification_required"
    message = response.json()["message"]
    assert not message.startswith("Going live") and any("\u0900" <= ch <= "\u097f" for ch in message)


def test_verified_adult_goes_live(auth_client):
    host = UserFactory()  # verified by the selfie check
    response = _go_live(auth_client(host))
    assert response.status_code == 201, response.json()


def test_unverified_host_cannot_cash_out(auth_client):
    # given a host with earnings whose age was never verified
    host = UserFactory(age_verification=UNVERIFIED)
    host_earns_from_a_gift(host, coins=2_000)
    # when they ask to cash out
    response = _cash_out(auth_client(host), host)
    # then it is refused with what to do, and nothing moved
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "age_verification_required" and body["message"].startswith("Cashing out needs")
    assert not CashoutRequest.objects.exists()


def test_verified_host_cashes_out(auth_client):
    host = UserFactory()
    host_earns_from_a_gift(host, coins=2_000)
    assert _cash_out(auth_client(host), host).status_code == 201


def test_unverified_account_spends_only_the_daily_allowance(auth_client, settings):
    # given an allowance of 100 coins a day without a verified age
    settings.AGE_UNVERIFIED_SPEND_DAILY_COINS = 100
    sender = UserFactory(age_verification=UNVERIFIED)
    fund(sender, 1_000)
    stream, gift = LiveStreamFactory(), GiftFactory(coin_price=60)
    client = auth_client(sender)
    # when they send one 60-coin gift, then a second
    assert _gift(client, stream, gift).status_code == 201
    response = _gift(client, stream, gift)
    # then the second (120 today) asks for the age check, in the error shape; nothing moved
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "age_verification_required"
    assert body["message"].startswith("Spending more than 100 coins a day needs a verified age")
    assert coins_balance(user_id=sender.pk) == 940 and GiftSend.objects.count() == 1
    # and once verified, it goes through
    User.objects.filter(pk=sender.pk).update(age_verification=User.AgeVerification.VERIFIED)
    assert _gift(client, stream, gift).status_code == 201


# --- A possible minor by the age check ----------------------------------------------------------


@pytest.mark.parametrize("state", [PENDING, REJECTED])
def test_held_or_rejected_account_cannot_buy_coins(auth_client, state, settings):
    settings.ESEWA_PRODUCT_CODE, settings.ESEWA_SECRET_KEY = "EPAYTEST", "8gBm/:&EnhH.1/q"
    user = UserFactory(age_verification=state)
    response = _buy(auth_client(user))
    assert response.status_code == 403
    assert response.json()["code"] == "age_check_failed"
    assert response.json()["details"]["age_verification"] == state
    assert not Payment.objects.exists()


def test_held_account_is_told_to_upload_an_id(auth_client, settings):
    settings.ESEWA_PRODUCT_CODE, settings.ESEWA_SECRET_KEY = "EPAYTEST", "8gBm/:&EnhH.1/q"
    user = UserFactory(age_verification=PENDING)
    body = _buy(auth_client(user)).json()
    assert body["message"].startswith("Our age check estimated you may be under 18")
    assert "ID document" in body["message"] and body["details"]["next_step"] == "upload_id_document"
    nepali = _buy(auth_client(user), HTTP_ACCEPT_LANGUAGE="ne").json()
    assert nepali["code"] == "age_check_failed" and any("\u0900" <= ch <= "\u097f" for ch in nepali["message"])


def test_rejected_account_is_told_a_moderator_decided(auth_client):
    user = UserFactory(age_verification=REJECTED)
    body = _go_live(auth_client(user)).json()
    assert body["code"] == "age_check_failed" and body["message"].startswith("A moderator could not confirm")


@pytest.mark.parametrize("state", [PENDING, REJECTED])
def test_held_or_rejected_account_cannot_gift_or_go_live(auth_client, state):
    user = UserFactory(age_verification=state)
    fund(user, 1_000)
    client = auth_client(user)
    gift = _gift(client, LiveStreamFactory(), GiftFactory(coin_price=10))
    assert gift.status_code == 403 and gift.json()["code"] == "age_check_failed"
    live = _go_live(client)
    assert live.status_code == 403 and live.json()["code"] == "age_check_failed"
    assert coins_balance(user_id=user.pk) == 1_000 and not Stream.objects.filter(host=user).exists()


def test_minor_by_date_of_birth_cannot_buy_coins(auth_client, settings):
    settings.ESEWA_PRODUCT_CODE, settings.ESEWA_SECRET_KEY = "EPAYTEST", "8gBm/:&EnhH.1/q"
    minor = UserFactory(date_of_birth=date(2015, 1, 1), age_verification=UNVERIFIED)
    response = _buy(auth_client(minor))
    assert response.status_code == 403 and response.json()["code"] == "age_restricted"
    assert not Payment.objects.exists()


def test_adult_without_verification_may_still_buy_coins(auth_client, settings):
    settings.ESEWA_PRODUCT_CODE, settings.ESEWA_SECRET_KEY = "EPAYTEST", "8gBm/:&EnhH.1/q"
    user = UserFactory(age_verification=UNVERIFIED)
    assert _buy(auth_client(user)).status_code == 201
