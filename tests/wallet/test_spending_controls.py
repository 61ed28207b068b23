"""Spending controls through the API: limits lowered at once and raised after the cool-off, the
pause, the platform defaults, the confirmation step for a large gift from a new account, and the
limits holding for gifts and games alike."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.accounts.models import User
from apps.gifts.models import GiftSend
from apps.wallet.models import SpendingControls
from apps.wallet.selectors import coins_balance, spending_controls_get
from tests.accounts.factories import UserFactory
from tests.games.factories import game_create
from tests.gifts.conftest import assert_ledger_sound
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db
URL = "/api/v1/wallet/spending-controls/"


def _old_account(**kwargs) -> User:
    """An account of a month ago (past the new-account confirmation step), with 100,000 coins."""
    user = UserFactory(**kwargs)
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=30))
    user.refresh_from_db()
    fund(user, 100_000)
    return user


def _cool_off_passes(user: User) -> None:
    """Move every scheduled raise and unpause of the user into the past, as if 24 hours went by."""
    past = timezone.now() - timedelta(seconds=1)
    rows = SpendingControls.objects.filter(user=user)
    rows.filter(daily_limit_next_at__isnull=False).update(daily_limit_next_at=past)
    rows.filter(monthly_limit_next_at__isnull=False).update(monthly_limit_next_at=past)
    rows.filter(unpause_at__isnull=False).update(unpause_at=past)


@pytest.fixture
def spender(db):
    return _old_account()


@pytest.fixture
def stream(db):
    return LiveStreamFactory()


@pytest.fixture
def post_gift(auth_client):
    def send(user, *, key: str | None = None, **body):
        return auth_client(user).post(
            "/api/v1/gifts/send/", body, format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex
        )

    return send


# --- GET / PATCH --------------------------------------------------------------------------------


def test_new_account_starts_with_the_platform_defaults(auth_client, settings):
    # given platform defaults of 3,000 a day and 40,000 a month
    settings.SPENDING_DEFAULT_DAILY_LIMIT, settings.SPENDING_DEFAULT_MONTHLY_LIMIT = 3_000, 40_000
    user = UserFactory()
    # when the new user reads their controls
    response = auth_client(user).get(URL)
    # then they are the defaults, nothing spent, nothing scheduled, and nothing was written by reading
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["daily_limit"], body["monthly_limit"], body["paused"]) == (3_000, 40_000, False)
    assert (body["spent_today"], body["spent_this_month"]) == (0, 0)
    assert body["daily_limit_next"] is None and body["unpause_at"] is None and body["cool_off_hours"] == 24
    assert parse_datetime(body["day_resets_at"]) > timezone.now()
    assert not SpendingControls.objects.exists()


def test_lowering_a_limit_takes_effect_at_once(auth_client, spender):
    # when the user lowers both limits
    response = auth_client(spender).patch(URL, {"daily_limit": 500, "monthly_limit": 2_000}, format="json")
    # then they hold now
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["daily_limit"], body["monthly_limit"]) == (500, 2_000)
    assert body["daily_limit_next"] is None and body["monthly_limit_next"] is None


def test_raising_a_limit_waits_for_the_cool_off(auth_client, spender, settings):
    # given a daily limit lowered to 500
    client = auth_client(spender)
    client.patch(URL, {"daily_limit": 500}, format="json")
    # when the user raises it to 5,000
    before = timezone.now()
    body = client.patch(URL, {"daily_limit": 5_000}, format="json").json()
    # then 500 still holds and 5,000 is scheduled 24 hours ahead
    assert body["daily_limit"] == 500 and body["daily_limit_next"] == 5_000
    due = parse_datetime(body["daily_limit_next_at"])
    assert before + timedelta(hours=24) <= due <= timezone.now() + timedelta(hours=24)
    # and once the cool-off has passed, 5,000 holds
    _cool_off_passes(spender)
    body = client.get(URL).json()
    assert body["daily_limit"] == 5_000 and body["daily_limit_next"] is None


def test_lowering_cancels_a_scheduled_raise(auth_client, spender):
    # given a raise waiting for the cool-off
    client = auth_client(spender)
    client.patch(URL, {"daily_limit": 500}, format="json")
    client.patch(URL, {"daily_limit": 5_000}, format="json")
    # when the user lowers the limit again
    body = client.patch(URL, {"daily_limit": 300}, format="json").json()
    # then the raise is gone: the cool-off passing changes nothing
    assert body["daily_limit"] == 300 and body["daily_limit_next"] is None
    _cool_off_passes(spender)
    assert client.get(URL).json()["daily_limit"] == 300


def test_patch_refuses_negative_limits_and_unknown_fields(auth_client, spender):
    client = auth_client(spender)
    negative = client.patch(URL, {"daily_limit": -1}, format="json")
    assert negative.status_code == 400 and negative.json()["code"] == "invalid"
    unknown = client.patch(URL, {"spent_today": 0}, format="json")
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid"
    assert not SpendingControls.objects.exists()


def test_controls_need_sign_in_and_are_only_ones_own(api_client, auth_client, spender, other_user):
    # given the spender paused
    auth_client(spender).patch(URL, {"paused": True}, format="json")
    # then an anonymous caller gets nothing, and another user sees and changes only their own
    assert api_client.get(URL).status_code == 401
    assert auth_client(other_user).get(URL).json()["paused"] is False
    auth_client(other_user).patch(URL, {"paused": False, "daily_limit": 1}, format="json")
    assert spending_controls_get(user_id=spender.pk).paused is True
    assert spending_controls_get(user_id=spender.pk).daily_limit == 100_000


# --- Limits on gifts and games ------------------------------------------------------------------


def test_daily_limit_refuses_the_gift_that_would_pass_it(auth_client, spender, stream, post_gift):
    # given a daily limit of 100 and a 30-coin gift
    gift = GiftFactory(coin_price=30)
    auth_client(spender).patch(URL, {"daily_limit": 100}, format="json")
    # when three gifts go through (90 coins) and a fourth is tried
    for _ in range(3):
        assert post_gift(spender, stream=stream.pk, gift=gift.pk).status_code == 201
    balance = coins_balance(user_id=spender.pk)
    response = post_gift(spender, stream=stream.pk, gift=gift.pk)
    # then the fourth is refused with the limit, what was spent and when it resets; nothing moved
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "spending_limit_reached" and "spending limit you set" in body["message"]
    assert body["details"]["period"] == "day" and body["details"]["limit"] == 100
    assert body["details"]["spent"] == 90 and body["details"]["requested"] == 30
    assert parse_datetime(body["details"]["resets_at"]) > timezone.now()
    assert coins_balance(user_id=spender.pk) == balance and GiftSend.objects.count() == 3
    # and the tally is what the controls show
    assert auth_client(spender).get(URL).json()["spent_today"] == 90
    assert_ledger_sound()


def test_monthly_limit_counts_earlier_days_of_the_month(auth_client, spender, stream, post_gift):
    # given 400 coins spent earlier this month and a monthly limit of 450
    gift = GiftFactory(coin_price=100)
    today = timezone.localdate()
    SpendingControls.objects.create(
        user=spender,
        daily_limit=10_000,
        monthly_limit=450,
        tally_day=today - timedelta(days=1) if today.day > 1 else today,
        spent_day=400 if today.day == 1 else 0,
        tally_month=today.replace(day=1),
        spent_month=400,
    )
    # when a 100-coin gift is sent
    response = post_gift(spender, stream=stream.pk, gift=gift.pk)
    # then the month's limit refuses it
    assert response.status_code == 409 and response.json()["details"]["period"] == "month"
    assert response.json()["details"]["spent"] == 400


def test_a_new_day_starts_a_new_tally(spender, stream, post_gift):
    # given yesterday's tally at the daily limit
    gift = GiftFactory(coin_price=100)
    today = timezone.localdate()
    SpendingControls.objects.create(
        user=spender,
        daily_limit=100,
        monthly_limit=100_000,
        tally_day=today - timedelta(days=1),
        spent_day=100,
        tally_month=today.replace(day=1),
        spent_month=100,
    )
    # when a gift is sent today, then it goes through and today counts from zero
    assert post_gift(spender, stream=stream.pk, gift=gift.pk).status_code == 201
    controls = SpendingControls.objects.get(user=spender)
    assert (controls.tally_day, controls.spent_day, controls.spent_month) == (today, 100, 200)


def test_a_retry_of_a_send_that_went_through_is_answered_not_refused(auth_client, spender, stream, post_gift):
    # given a send that took the whole daily limit
    gift = GiftFactory(coin_price=100)
    auth_client(spender).patch(URL, {"daily_limit": 100}, format="json")
    key = uuid.uuid4().hex
    assert post_gift(spender, key=key, stream=stream.pk, gift=gift.pk).status_code == 201
    # when the app retries it with the same key, then it gets the first send back, counted once
    again = post_gift(spender, key=key, stream=stream.pk, gift=gift.pk)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert SpendingControls.objects.get(user=spender).spent_day == 100 and GiftSend.objects.count() == 1


def test_a_refused_send_counts_nothing(stream, post_gift):
    # given a sender with 50 coins and a 100-coin gift
    poor = UserFactory()
    fund(poor, 50)
    # when the send is refused for want of coins
    refused = post_gift(poor, stream=stream.pk, gift=GiftFactory(coin_price=100).pk)
    # then nothing was counted (the tally rolled back with the send)
    assert refused.status_code == 409 and refused.json()["code"] == "insufficient_coins"
    assert spending_controls_get(user_id=poor.pk).spent_day == 0


def test_game_bets_count_against_the_same_limit(auth_client, spender, stream, post_gift):
    # given a daily limit of 150, 100 of it spent on a gift
    auth_client(spender).patch(URL, {"daily_limit": 150}, format="json")
    assert post_gift(spender, stream=stream.pk, gift=GiftFactory(coin_price=100).pk).status_code == 201
    game_create(slug="spin_wheel")
    client = auth_client(spender)

    def play(bet: int):
        return client.post(
            "/api/v1/games/spin_wheel/play/", {"bet": bet}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
        )

    # when the user bets 60, then the limit refuses it; a bet of 50 goes through
    refused = play(60)
    assert refused.status_code == 409 and refused.json()["code"] == "spending_limit_reached"
    assert play(50).status_code == 201
    assert SpendingControls.objects.get(user=spender).spent_day == 150


# --- The pause ----------------------------------------------------------------------------------


def test_pause_stops_spending_at_once_and_unpausing_cools_off(auth_client, spender, stream, post_gift):
    gift = GiftFactory(coin_price=10)
    client = auth_client(spender)
    # when the user pauses
    assert client.patch(URL, {"paused": True}, format="json").json()["paused"] is True
    # then a gift is refused with why and what to do
    response = post_gift(spender, stream=stream.pk, gift=gift.pk)
    assert response.status_code == 409 and response.json()["code"] == "spending_paused"
    assert "unpause it in Spending controls" in response.json()["message"]
    assert response.json()["details"] == {"unpause_at": None, "cool_off_hours": 24}
    # when they unpause, then it is only scheduled: still paused
    body = client.patch(URL, {"paused": False}, format="json").json()
    assert body["paused"] is True and body["unpause_at"] is not None
    assert post_gift(spender, stream=stream.pk, gift=gift.pk).json()["code"] == "spending_paused"
    # and after the cool-off they can spend again
    _cool_off_passes(spender)
    assert post_gift(spender, stream=stream.pk, gift=gift.pk).status_code == 201
    assert client.get(URL).json()["paused"] is False


def test_pausing_again_cancels_a_scheduled_unpause(auth_client, spender):
    client = auth_client(spender)
    client.patch(URL, {"paused": True}, format="json")
    client.patch(URL, {"paused": False}, format="json")
    body = client.patch(URL, {"paused": True}, format="json").json()
    assert body["paused"] is True and body["unpause_at"] is None
    _cool_off_passes(spender)
    assert client.get(URL).json()["paused"] is True


def test_pause_refuses_games_too(auth_client, spender):
    game_create(slug="spin_wheel")
    client = auth_client(spender)
    client.patch(URL, {"paused": True}, format="json")
    response = client.post(
        "/api/v1/games/spin_wheel/play/", {"bet": 10}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )
    assert response.status_code == 409 and response.json()["code"] == "spending_paused"


# --- Confirmation of a large gift from a new account ---------------------------------------------


def test_large_gift_from_a_new_account_needs_confirmation(stream, post_gift, settings):
    # given a 3-day-old account and gifts above 1,000 coins needing confirmation for 7 days
    settings.SPENDING_CONFIRM_GIFT_COINS, settings.SPENDING_CONFIRM_ACCOUNT_DAYS = 1_000, 7
    newcomer = UserFactory()
    User.objects.filter(pk=newcomer.pk).update(date_joined=timezone.now() - timedelta(days=3))
    fund(newcomer, 5_000)
    big = GiftFactory(coin_price=1_001)
    # when the first send is made, then it is refused with a confirmation step and nothing moves
    first = post_gift(newcomer, stream=stream.pk, gift=big.pk)
    assert first.status_code == 409
    body = first.json()
    assert body["code"] == "confirmation_required" and "send again to confirm" in body["message"]
    assert body["details"] == {"coins": 1_001, "threshold": 1_000, "confirm": True}
    assert coins_balance(user_id=newcomer.pk) == 5_000 and not GiftSend.objects.exists()
    # when it is resent with confirm, then it goes through
    second = post_gift(newcomer, stream=stream.pk, gift=big.pk, confirm=True)
    assert second.status_code == 201, second.json()
    assert coins_balance(user_id=newcomer.pk) == 5_000 - 1_001


def test_gift_at_the_size_or_from_an_older_account_needs_no_confirmation(stream, post_gift, settings):
    settings.SPENDING_CONFIRM_GIFT_COINS, settings.SPENDING_CONFIRM_ACCOUNT_DAYS = 1_000, 7
    newcomer = UserFactory()
    fund(newcomer, 5_000)
    at_size, larger = GiftFactory(coin_price=1_000), GiftFactory(coin_price=2_000)
    # a gift of exactly the size goes through
    assert post_gift(newcomer, stream=stream.pk, gift=at_size.pk).status_code == 201
    # an account of 8 days sends a larger one without confirming
    User.objects.filter(pk=newcomer.pk).update(date_joined=timezone.now() - timedelta(days=8))
    assert post_gift(newcomer, stream=stream.pk, gift=larger.pk).status_code == 201


# --- Concurrency (real PostgreSQL, real threads) --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_never_pass_the_daily_limit(race):
    # given a sender with plenty of coins, a daily limit of 7 gifts' worth, and 30 sends at once
    from rest_framework.test import APIClient

    from apps.accounts.services import tokens_issue

    sender = _old_account()
    stream = LiveStreamFactory()
    gift = GiftFactory(coin_price=20)
    SpendingControls.objects.create(user=sender, daily_limit=7 * 20, monthly_limit=10**6)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_issue(user=sender)['access']}")

    def send():
        return client.post(
            "/api/v1/gifts/send/",
            {"stream": stream.pk, "gift": gift.pk},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )

    # when they race
    responses = race([send for _ in range(30)])

    # then exactly 7 went through, the rest hit the limit, and the tally and ledger agree
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 7 + [409] * 23
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"spending_limit_reached"}
    assert GiftSend.objects.filter(sender=sender).count() == 7
    assert SpendingControls.objects.get(user=sender).spent_day == 140
    assert coins_balance(user_id=sender.pk) == 100_000 - 140
    assert_ledger_sound()


@pytest.mark.django_db(transaction=True)
def test_first_use_by_concurrent_sends_creates_one_row(race):
    # given a sender with no controls row yet and a limit from the defaults of 3 gifts' worth
    from django.test import override_settings

    sender = _old_account()
    stream = LiveStreamFactory()
    gift = GiftFactory(coin_price=20)
    from apps.gifts.services import gift_send

    with override_settings(SPENDING_DEFAULT_DAILY_LIMIT=60):
        results = race(
            [
                lambda: gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1)
                for _ in range(10)
            ]
        )
    # then exactly three went through
    assert sum(1 for r in results if not isinstance(r, Exception)) == 3
    assert {type(r).__name__ for r in results if isinstance(r, Exception)} == {"SpendingLimitReached"}
    assert SpendingControls.objects.filter(user=sender).count() == 1


# --- Admin --------------------------------------------------------------------------------------


def test_admin_shows_controls_read_only(client, auth_client, spender):
    # given a user who paused their spending
    auth_client(spender).patch(URL, {"paused": True, "daily_limit": 700}, format="json")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    # when staff open the list, then they see it; they cannot add or change a row (no skipping a cool-off)
    listing = client.get("/admin/wallet/spendingcontrols/?paused__exact=1")
    assert listing.status_code == 200 and spender.username in listing.content.decode()
    assert client.get("/admin/wallet/spendingcontrols/add/").status_code == 403
    change = client.post(f"/admin/wallet/spendingcontrols/{spender.pk}/change/", {"paused": "", "daily_limit": 10**6})
    assert change.status_code == 403
    assert SpendingControls.objects.get(user=spender).daily_limit == 700


def test_confirmation_holds_on_the_one_statement_path_too(stream, post_gift, settings):
    # given a new account that already sent a small gift (its controls row exists: later sends take
    # the one statement, whose SQL twin of the confirmation step is what is checked here)
    settings.SPENDING_CONFIRM_GIFT_COINS, settings.SPENDING_CONFIRM_ACCOUNT_DAYS = 1_000, 7
    newcomer = UserFactory()
    fund(newcomer, 5_000)
    small, big = GiftFactory(coin_price=10), GiftFactory(coin_price=1_001)
    assert post_gift(newcomer, stream=stream.pk, gift=small.pk).status_code == 201
    assert SpendingControls.objects.filter(user=newcomer).exists()
    # when a large gift is sent unconfirmed, then it is refused; confirmed, it goes through
    first = post_gift(newcomer, stream=stream.pk, gift=big.pk)
    assert first.status_code == 409 and first.json()["code"] == "confirmation_required"
    assert coins_balance(user_id=newcomer.pk) == 4_990
    assert post_gift(newcomer, stream=stream.pk, gift=big.pk, confirm=True).status_code == 201
    assert SpendingControls.objects.get(user=newcomer).spent_day == 1_011
