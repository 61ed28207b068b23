"""OG buying, renewing, upgrading and the refusals (API and service)."""

import uuid
from datetime import UTC as utc
from datetime import date, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.og import selectors
from apps.og.models import OgMembership, OgPurchase
from apps.og.services import og_buy, og_memberships_expire
from apps.wallet.models import Account, JournalEntry
from apps.wallet.selectors import account_available, coins_balance, ledger_audit
from apps.wallet.services import platform_account
from tests.accounts.factories import UserFactory
from tests.og.factories import OgTierFactory, coins_give

pytestmark = pytest.mark.django_db

BUY_URL = "/api/v1/og/buy/"
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=utc)


def buy(client, tier_id, key=None):
    return client.post(BUY_URL, {"tier": tier_id}, format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex)


def frozen(at: datetime):
    """The clock is the outside world: tests set it instead of sleeping."""
    return mock.patch("django.utils.timezone.now", return_value=at)


@pytest.fixture
def tiers():
    return {
        1: OgTierFactory(level=1, price_coins=1_000, duration_days=30),
        2: OgTierFactory(level=2, price_coins=3_000, duration_days=30),
        3: OgTierFactory(level=3, price_coins=9_000, duration_days=30, og_only_gifts=True),
    }


def test_tier_list_shows_tiers_on_sale_lowest_first(auth_client, user, tiers):
    # given a retired tier
    OgTierFactory(level=9, is_active=False)
    # when
    response = auth_client(user).get("/api/v1/og/tiers/")
    # then
    assert response.status_code == 200
    assert [t["level"] for t in response.json()] == [1, 2, 3]
    assert response.json()[0]["price_coins"] == 1_000
    assert set(response.json()[0]) >= {"badge", "entrance_effect", "og_only_gifts", "chat_color", "daily_bonus_coins"}


def test_buy_charges_the_price_through_the_ledger_and_starts_the_membership(auth_client, user, tiers):
    # given
    coins_give(user, 5_000)
    # when
    response = buy(auth_client(user), tiers[2].pk)
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["charged_coins"], body["credit_coins"]) == ("buy", 3_000, 0)
    assert coins_balance(user_id=user.pk) == 2_000
    entry = JournalEntry.objects.get(kind="og_purchase")
    postings = {p.account.kind: p.amount for p in entry.postings.select_related("account")}
    assert postings == {Account.Kind.USER_COINS: -3_000, Account.Kind.OG_SALES: 3_000}
    assert account_available(account=platform_account(kind=Account.Kind.OG_SALES)) == 3_000
    membership = OgMembership.objects.get(user=user)
    assert membership.tier == tiers[2]
    assert abs(membership.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(seconds=10)
    assert selectors.user_has_active_og(user_id=user.pk)
    assert ledger_audit() == []


def test_buy_is_idempotent_per_key(auth_client, user, tiers):
    # given
    coins_give(user, 5_000)
    client = auth_client(user)
    # when the same request is sent twice
    first = buy(client, tiers[1].pk, key="og-key-1")
    second = buy(client, tiers[1].pk, key="og-key-1")
    # then it was done once and the retry replays the answer
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert OgPurchase.objects.count() == 1
    assert coins_balance(user_id=user.pk) == 4_000
    # and the same key with another body is refused
    other = buy(client, tiers[2].pk, key="og-key-1")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


def test_buy_requires_an_idempotency_key(auth_client, user, tiers):
    coins_give(user, 5_000)
    response = auth_client(user).post(BUY_URL, {"tier": tiers[1].pk}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert OgPurchase.objects.count() == 0


def test_renew_extends_the_expiry_by_one_period(user, tiers):
    # given a member 10 days into a 30-day Bronze membership
    coins_give(user, 5_000)
    with frozen(T0):
        og_buy(user=user, tier_id=tiers[1].pk)
    # when they buy Bronze again
    with frozen(T0 + timedelta(days=10)):
        purchase = og_buy(user=user, tier_id=tiers[1].pk)
    # then the expiry moves one period past the old one and the full price is charged
    assert purchase.kind == OgPurchase.Kind.RENEW
    assert purchase.charged_coins == 1_000
    membership = OgMembership.objects.get(user=user)
    assert membership.expires_at == T0 + timedelta(days=60)
    assert membership.started_at == T0
    assert coins_balance(user_id=user.pk) == 3_000
    assert ledger_audit() == []


def test_upgrade_credits_the_unused_part_pro_rata_rounded_down(user, tiers):
    # given a Silver member (3,000 coins / 30 days) with 10 days and 1 second left
    coins_give(user, 20_000)
    with frozen(T0):
        og_buy(user=user, tier_id=tiers[2].pk)
    now = T0 + timedelta(days=20) - timedelta(seconds=1)
    # when they upgrade to Gold (9,000 coins)
    with frozen(now):
        purchase = og_buy(user=user, tier_id=tiers[3].pk)
    # then the credit is floor(3000 * remaining_seconds / period_seconds) and a new period starts
    remaining = 10 * 86_400 + 1
    assert purchase.credit_coins == 3_000 * remaining // (30 * 86_400) == 1_000
    assert purchase.kind == OgPurchase.Kind.UPGRADE
    assert purchase.previous_tier == tiers[2]
    assert purchase.charged_coins == 8_000
    membership = OgMembership.objects.get(user=user)
    assert (membership.tier, membership.started_at, membership.expires_at) == (tiers[3], now, now + timedelta(days=30))
    assert coins_balance(user_id=user.pk) == 20_000 - 3_000 - 8_000
    assert ledger_audit() == []


def test_upgrade_credit_rounds_down_a_fraction_of_a_coin(user, tiers):
    # given Bronze (1,000 / 30 days) with 1 day left: worth 33.33 coins
    coins_give(user, 10_000)
    with frozen(T0):
        og_buy(user=user, tier_id=tiers[1].pk)
    with frozen(T0 + timedelta(days=29)):
        purchase = og_buy(user=user, tier_id=tiers[2].pk)
    assert purchase.credit_coins == 33
    assert purchase.charged_coins == 3_000 - 33


def test_upgrade_with_credit_above_the_price_charges_nothing_and_keeps_the_value_as_time(user, tiers):
    # given Bronze renewed four times (5 periods = 5,000 coins of unused time)
    coins_give(user, 10_000)
    with frozen(T0):
        for _ in range(5):
            og_buy(user=user, tier_id=tiers[1].pk)
    # when upgrading to Silver (3,000 / 30 days) at once
    with frozen(T0):
        purchase = og_buy(user=user, tier_id=tiers[2].pk)
    # then no coins move and 5,000 coins of Silver time (50 days) are given
    assert (purchase.credit_coins, purchase.charged_coins, purchase.entry) == (5_000, 0, None)
    assert OgMembership.objects.get(user=user).expires_at == T0 + timedelta(days=50)
    assert JournalEntry.objects.filter(kind="og_purchase").count() == 5
    assert coins_balance(user_id=user.pk) == 5_000
    assert ledger_audit() == []


def test_downgrade_while_active_is_refused_and_writes_nothing(auth_client, user, tiers):
    # given a Gold member
    coins_give(user, 20_000)
    og_buy(user=user, tier_id=tiers[3].pk)
    before = (coins_balance(user_id=user.pk), OgPurchase.objects.count())
    # when they try to buy Bronze
    response = buy(auth_client(user), tiers[1].pk)
    # then
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "og_downgrade_while_active"
    assert (body["details"]["current_level"], body["details"]["requested_level"]) == (3, 1)
    assert (coins_balance(user_id=user.pk), OgPurchase.objects.count()) == before
    assert OgMembership.objects.get(user=user).tier == tiers[3]


def test_a_lower_tier_can_be_bought_once_the_membership_expired(user, tiers):
    coins_give(user, 20_000)
    with frozen(T0):
        og_buy(user=user, tier_id=tiers[3].pk)
    with frozen(T0 + timedelta(days=31)):
        purchase = og_buy(user=user, tier_id=tiers[1].pk)
    assert purchase.kind == OgPurchase.Kind.BUY
    assert purchase.previous_tier is None
    membership = OgMembership.objects.get(user=user)
    assert membership.tier == tiers[1]
    assert membership.expires_at == T0 + timedelta(days=61)


@pytest.mark.parametrize("tier_id", [999_999, "retired"])
def test_unknown_or_retired_tier_is_refused(auth_client, user, tiers, tier_id):
    coins_give(user, 20_000)
    if tier_id == "retired":
        tier_id = OgTierFactory(level=7, is_active=False).pk
    response = buy(auth_client(user), tier_id)
    assert response.status_code == 400
    assert response.json()["code"] == "og_tier_unknown"
    assert OgPurchase.objects.count() == 0


def test_bad_input_gets_the_error_shape_and_writes_nothing(auth_client, user, tiers):
    client = auth_client(user)
    unknown_field = client.post(BUY_URL, {"tier": tiers[1].pk, "extra": 1}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    wrong_type = client.post(BUY_URL, {"tier": "gold"}, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert (unknown_field.status_code, unknown_field.json()["code"]) == (400, "invalid")
    assert "extra" in unknown_field.json()["details"]
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (400, "invalid")
    assert "tier" in wrong_type.json()["details"]
    assert OgPurchase.objects.count() == 0


def test_insufficient_coins_is_refused_and_writes_nothing(auth_client, user, tiers):
    # given too few coins
    coins_give(user, 999)
    # when
    response = buy(auth_client(user), tiers[1].pk)
    # then
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_coins"
    assert response.json()["details"] == {"balance": 999, "needed": 1_000}
    assert not OgMembership.objects.filter(user=user).exists()
    assert OgPurchase.objects.count() == 0
    assert coins_balance(user_id=user.pk) == 999
    assert ledger_audit() == []


@pytest.mark.parametrize(
    "profile",
    [
        {"date_of_birth": date(2012, 1, 1)},
        {"date_of_birth": None},
        {"age_verification": User.AgeVerification.PENDING_REVIEW},
    ],
    ids=["minor", "age-unknown", "held-for-age-review"],
)
def test_only_adults_may_buy(auth_client, tiers, profile):
    user = UserFactory(**profile)
    coins_give(user, 5_000)
    response = buy(auth_client(user), tiers[1].pk)
    assert response.status_code == 403
    held = profile.get("age_verification") == User.AgeVerification.PENDING_REVIEW
    assert response.json()["code"] == ("age_check_failed" if held else "age_restricted")
    assert coins_balance(user_id=user.pk) == 5_000


def test_og_endpoints_need_authentication(api_client, tiers):
    assert api_client.get("/api/v1/og/tiers/").status_code == 401
    assert api_client.get("/api/v1/og/me/").status_code == 401
    assert api_client.post(BUY_URL, {"tier": tiers[1].pk}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 401


def test_me_shows_no_membership_then_active_then_expired(auth_client, user, tiers):
    client = auth_client(user)
    # never a member
    body = client.get("/api/v1/og/me/").json()
    assert (body["active"], body["status"], body["tier"]) == (False, None, None)
    # active
    coins_give(user, 5_000)
    with frozen(T0):
        og_buy(user=user, tier_id=tiers[2].pk)
    with frozen(T0 + timedelta(days=15)):
        body = client.get("/api/v1/og/me/").json()
    assert (body["active"], body["status"], body["tier"]["level"]) == (True, "active", 2)
    assert body["upgrade_credit_coins"] == 1_500
    # expired (even before the expiry task ran)
    with frozen(T0 + timedelta(days=30, seconds=1)):
        body = client.get("/api/v1/og/me/").json()
    assert (body["active"], body["status"], body["upgrade_credit_coins"]) == (False, "expired", 0)


def test_badge_contract_for_the_room_and_gifts(user, other_user, tiers):
    # given a Gold member and a non-member
    coins_give(user, 20_000)
    og_buy(user=user, tier_id=tiers[3].pk)
    tier = tiers[3]
    # then
    assert selectors.user_og_badge(user_id=user.pk) == {
        "level": 3,
        "name": tier.name,
        "badge": tier.badge,
        "chat_color": tier.chat_color,
        "entrance_effect": tier.entrance_effect,
    }
    assert selectors.user_og_badge(user_id=other_user.pk) is None
    assert selectors.user_has_active_og(user_id=user.pk) is True
    assert selectors.user_has_active_og(user_id=other_user.pk) is False
    assert selectors.user_can_send_og_gifts(user_id=user.pk) is True
    assert selectors.users_og_badges(user_ids=[user.pk, other_user.pk]) == {
        user.pk: selectors.user_og_badge(user_id=user.pk)
    }


def test_expiry_task_marks_memberships_and_ends_the_perks(user, other_user, tiers):
    # given two members, one past expiry
    coins_give(user, 5_000)
    coins_give(other_user, 5_000)
    with frozen(T0):
        og_buy(user=user, tier_id=tiers[1].pk)
    with frozen(T0 + timedelta(days=20)):
        og_buy(user=other_user, tier_id=tiers[1].pk)
    at = T0 + timedelta(days=30, minutes=1)
    with frozen(at):
        # the perks end at the expiry even before the task runs
        assert selectors.user_has_active_og(user_id=user.pk) is False
        assert selectors.user_og_badge(user_id=user.pk) is None
        # when the task runs twice
        from apps.og.tasks import og_memberships_expire_task

        assert og_memberships_expire_task.delay().get() == 1
        assert og_memberships_expire(now=at) == 0
    # then
    assert OgMembership.objects.get(user=user).status == OgMembership.Status.EXPIRED
    assert OgMembership.objects.get(user=other_user).status == OgMembership.Status.ACTIVE
