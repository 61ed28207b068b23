"""Daily bonus (once per member per day, whatever runs it) and parallel purchases."""

from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest

from apps.og.models import OgDailyBonus, OgPurchase
from apps.og.services import og_buy, og_daily_bonus_grant_all
from apps.og.tasks import og_daily_bonus_grant_all_task
from apps.wallet.exceptions import InsufficientCoins
from apps.wallet.models import JournalEntry
from apps.wallet.selectors import coins_balance, ledger_audit
from tests.accounts.factories import UserFactory
from tests.og.factories import OgTierFactory, coins_give

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def frozen(at: datetime):
    return mock.patch("django.utils.timezone.now", return_value=at)


@pytest.mark.django_db
def test_daily_bonus_run_twice_grants_once():
    # given a Bronze member (10 coins a day) and a non-member
    tier = OgTierFactory(level=1, price_coins=1_000, daily_bonus_coins=10)
    member, stranger = UserFactory(), UserFactory()
    coins_give(member, 1_000)
    og_buy(user=member, tier_id=tier.pk)
    # when the beat task runs twice the same day
    first = og_daily_bonus_grant_all_task.delay().get()
    second = og_daily_bonus_grant_all_task.delay().get()
    # then one bonus was granted, from issuance, as one ledger entry
    assert (first, second) == (1, 0)
    assert coins_balance(user_id=member.pk) == 10
    assert coins_balance(user_id=stranger.pk) == 0
    bonus = OgDailyBonus.objects.get()
    assert bonus.entry.kind == "og_daily_bonus"
    assert {p.account.kind: p.amount for p in bonus.entry.postings.select_related("account")} == {
        "issuance": -10,
        "user_coins": 10,
    }
    assert ledger_audit() == []


@pytest.mark.django_db
def test_daily_bonus_is_granted_again_the_next_day_and_not_after_expiry():
    tier = OgTierFactory(level=1, price_coins=1_000, duration_days=2, daily_bonus_coins=25)
    member = UserFactory()
    coins_give(member, 1_000)
    with frozen(T0):
        og_buy(user=member, tier_id=tier.pk)
        assert og_daily_bonus_grant_all(day=date(2026, 3, 1)) == 1
    with frozen(T0 + timedelta(days=1)):
        assert og_daily_bonus_grant_all(day=date(2026, 3, 2)) == 1
        assert og_daily_bonus_grant_all(day=date(2026, 3, 2)) == 0
    with frozen(T0 + timedelta(days=2, seconds=1)):  # expired
        assert og_daily_bonus_grant_all(day=date(2026, 3, 3)) == 0
    assert coins_balance(user_id=member.pk) == 50
    assert ledger_audit() == []


@pytest.mark.django_db
def test_tier_without_bonus_grants_nothing():
    tier = OgTierFactory(level=1, price_coins=100, daily_bonus_coins=0)
    member = UserFactory()
    coins_give(member, 100)
    og_buy(user=member, tier_id=tier.pk)
    assert og_daily_bonus_grant_all() == 0
    assert not JournalEntry.objects.filter(kind="og_daily_bonus").exists()


@pytest.mark.django_db(transaction=True)
def test_parallel_bonus_runs_grant_once_per_member(race):
    # given three members
    tier = OgTierFactory(level=1, price_coins=100, daily_bonus_coins=7)
    members = [UserFactory() for _ in range(3)]
    for member in members:
        coins_give(member, 100)
        og_buy(user=member, tier_id=tier.pk)
    # when four workers run the grant at once
    results = race([lambda: og_daily_bonus_grant_all(day=date(2026, 3, 1))] * 4)
    # then each member got exactly one bonus
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 3
    assert [coins_balance(user_id=m.pk) for m in members] == [7, 7, 7]
    assert OgDailyBonus.objects.count() == 3
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
def test_parallel_purchases_never_overdraw(race):
    # given coins for exactly two Bronze periods
    tier = OgTierFactory(level=1, price_coins=1_000)
    user = UserFactory()
    coins_give(user, 2_000)
    # when six purchases race
    results = race([lambda: og_buy(user=user, tier_id=tier.pk)] * 6)
    # then two went through (a buy and a renewal) and four were refused for coins
    bought = [r for r in results if isinstance(r, OgPurchase)]
    refused = [r for r in results if isinstance(r, InsufficientCoins)]
    assert (len(bought), len(refused)) == (2, 4), results
    assert sorted(p.kind for p in bought) == ["buy", "renew"]
    assert coins_balance(user_id=user.pk) == 0
    assert ledger_audit() == []
