"""The velocity rules: each fires on its pattern (opening a case with its evidence and holding the
hosts' cash-outs) and stays quiet on innocent traffic."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.fraud.models import FraudCase
from apps.fraud.services import fraud_rules_run
from apps.fraud.tasks import fraud_rules_run_task
from apps.wallet.models import CashoutHold
from apps.wallet.services import cashout_request
from tests.accounts.factories import UserFactory
from tests.fraud.factories import gift, top_up
from tests.wallet.factories import fund, payout_ready

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.GIFT_HOST_SHARE_PERCENT = 60
    settings.CASHOUT_MIN_COINS = 100
    settings.FRAUD_NEW_ACCOUNT_DAYS, settings.FRAUD_NEW_HOST_DAYS = 7, 30
    settings.FRAUD_BURST_WINDOW_MINUTES, settings.FRAUD_BURST_GIFT_COINS = 60, 500
    settings.FRAUD_BURST_MIN_SENDERS, settings.FRAUD_BURST_MIN_COINS = 3, 2000
    settings.FRAUD_RING_WINDOW_HOURS, settings.FRAUD_RING_MIN_EDGE_COINS = 24, 300
    settings.FRAUD_RING_MIN_LENGTH, settings.FRAUD_RING_MAX_LENGTH = 3, 5
    settings.FRAUD_MIRROR_WINDOW_HOURS, settings.FRAUD_MIRROR_MIN_COINS, settings.FRAUD_MIRROR_PERCENT = 48, 1000, 80


def _old(**kwargs):
    return UserFactory(date_joined=timezone.now() - timedelta(days=400), **kwargs)


def _funded(coins: int, *, old: bool = False):
    user = _old() if old else UserFactory()
    fund(user, coins)
    return user


def _held(user) -> list[str]:
    return list(CashoutHold.objects.filter(host=user, released_at__isnull=True).values_list("reason", flat=True))


# --- Burst -----------------------------------------------------------------------------------


def test_large_gifts_from_new_accounts_to_a_new_host_open_a_case():
    # given a host of two days and four accounts of a day each sending a large gift
    host = UserFactory(date_joined=timezone.now() - timedelta(days=2))
    senders = [_funded(600) for _ in range(4)]
    for sender in senders:
        gift(sender, host, 600)

    # when the rules run (through the beat task)
    assert fraud_rules_run_task() == 1

    # then one case names the host, with the gifts as evidence, and the host's cash-outs wait
    case = FraudCase.objects.get()
    assert (case.rule, case.status, case.subject_key) == ("new_account_burst", "open", f"host:{host.pk}")
    assert list(case.hosts.all()) == [host]
    assert case.evidence["total_coins"] == 2400
    assert case.evidence["sender_ids"] == sorted(s.pk for s in senders)
    assert [g["coins"] for g in case.evidence["gifts"]] == [600] * 4
    assert f"Host #{host.pk}" in case.summary and "2,400 coins" in case.summary and "from 4 accounts" in case.summary
    assert _held(host) == ["Recent large gifts from new accounts are being reviewed."]


@pytest.mark.parametrize(
    "innocent",
    ["host_is_established", "senders_are_established", "gifts_are_small", "too_few_senders", "outside_window"],
)
def test_burst_stays_quiet_on_innocent_traffic(innocent, settings):
    host = _old() if innocent == "host_is_established" else UserFactory()
    count = 2 if innocent == "too_few_senders" else 4
    coins = 499 if innocent == "gifts_are_small" else 1200 if innocent == "too_few_senders" else 600
    for _ in range(count):
        gift(_funded(coins, old=innocent == "senders_are_established"), host, coins)

    later = timezone.now() + timedelta(minutes=61) if innocent == "outside_window" else None
    assert fraud_rules_run(now=later) == []
    assert not FraudCase.objects.exists()
    assert _held(host) == []


def test_rerunning_refreshes_the_open_case_instead_of_opening_another():
    host = UserFactory()
    senders = [_funded(1000) for _ in range(4)]
    for sender in senders[:3]:
        gift(sender, host, 700)
    fraud_rules_run()
    first = FraudCase.objects.get()

    # when another gift arrives and the rules run twice more
    gift(senders[3], host, 700)
    fraud_rules_run()
    fraud_rules_run()

    # then the one open case carries the new evidence, and the host has one hold
    case = FraudCase.objects.get()
    assert case.pk == first.pk and case.evidence["gift_count"] == 4
    assert CashoutHold.objects.filter(host=host).count() == 1


# --- Ring ------------------------------------------------------------------------------------


def test_accounts_gifting_in_a_circle_open_a_case_on_every_member():
    # given A → B → C → A, each passing on 400 coins (established accounts: the burst rule stays out)
    a, b, c = (_funded(400, old=True) for _ in range(3))
    gift(a, b, 400)
    gift(b, c, 400)
    gift(c, a, 400)

    fraud_rules_run()

    case = FraudCase.objects.get()
    members = sorted([a.pk, b.pk, c.pk])
    assert (case.rule, case.subject_key) == ("gift_ring", "ring:" + ",".join(map(str, members)))
    assert sorted(case.hosts.values_list("pk", flat=True)) == members
    assert {(e["from_id"], e["to_id"], e["coins"]) for e in case.evidence["edges"]} == {
        (a.pk, b.pk, 400),
        (b.pk, c.pk, 400),
        (c.pk, a.pk, 400),
    }
    assert "3 accounts gifted in a circle" in case.summary
    assert all(_held(user) for user in (a, b, c))


@pytest.mark.parametrize("innocent", ["chain", "pair", "small_hops"])
def test_ring_stays_quiet_on_innocent_traffic(innocent):
    a, b, c = (_funded(400, old=True) for _ in range(3))
    coins = 200 if innocent == "small_hops" else 400
    if innocent == "pair":  # two friends gifting each other is not a ring
        gift(a, b, coins)
        gift(b, a, coins)
    else:
        gift(a, b, coins)
        gift(b, c, coins)
        if innocent == "small_hops":
            gift(c, a, coins)

    assert fraud_rules_run() == []
    assert not FraudCase.objects.exists()


# --- Mirror ----------------------------------------------------------------------------------


def test_a_cashout_mirroring_fresh_topups_opens_a_case(monkeypatch):
    # given three established accounts who top up 1,000 coins each and gift them to one host at once
    host = _old()
    payers = [_old() for _ in range(3)]
    payments = [top_up(monkeypatch, payer, 1000) for payer in payers]
    for payer in payers:
        gift(payer, host, 1000)

    # when the host cashes out what those gifts earned
    cashout = cashout_request(host=host, coins=1800, destination_id=payout_ready(host))
    fraud_rules_run()

    # then a case shows the money coming in and going out
    case = FraudCase.objects.get()
    assert (case.rule, case.subject_key) == ("topup_cashout_mirror", f"cashout:{cashout.pk}")
    assert case.evidence["mirrored_coins"] == 1800
    assert case.evidence["topup_paisa"] == 300_000
    assert sorted(f["user_id"] for f in case.evidence["feeders"]) == sorted(p.pk for p in payers)
    assert sorted(pid for f in case.evidence["feeders"] for pid in f["topup_payment_ids"]) == sorted(
        p.pk for p in payments
    )
    assert "1,800 of them (100 %)" in case.summary and "NPR 3,000.00" in case.summary
    assert _held(host) == ["This cash-out mirrors recent top-ups and is being reviewed."]


@pytest.mark.parametrize("innocent", ["granted_coins", "small_share", "small_cashout"])
def test_mirror_stays_quiet_on_innocent_traffic(monkeypatch, innocent, settings):
    # given a host whose fan gifts 1,000 coins (bought, or granted by Finance)
    host, fan = _old(), _old()
    if innocent == "granted_coins":
        fund(fan, 1000)
    else:
        top_up(monkeypatch, fan, 1000)
    gift(fan, host, 1000)
    if innocent == "small_share":  # most earnings come from fans whose coins were granted
        for _ in range(3):
            gift(_funded(1000, old=True), host, 1000)
    if innocent == "small_cashout":
        settings.FRAUD_MIRROR_MIN_COINS = 601

    # when the host cashes out everything
    cashout_request(host=host, coins=2400 if innocent == "small_share" else 600, destination_id=payout_ready(host))

    # then no case: too little of it came from fresh top-ups, or it is too small to look at
    assert fraud_rules_run() == []
    assert not FraudCase.objects.exists()
    assert _held(host) == []


def test_the_rules_are_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["fraud-rules-run"]
    assert entry == {"task": "fraud.fraud_rules_run", "schedule": float(settings.FRAUD_RULES_SECONDS)}
    assert fraud_rules_run_task.name == "fraud.fraud_rules_run"
