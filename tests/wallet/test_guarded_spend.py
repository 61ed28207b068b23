"""The one-statement spend the wallet builds around a caller's guard (`coins_spend_guarded`): the guard
decides, the entry always balances, a retry is undone, and a plain spend is one round trip."""

import pytest

from apps.wallet.exceptions import DuplicateEntry
from apps.wallet.models import JournalEntry, Posting
from apps.wallet.selectors import coins_balance, ledger_audit
from apps.wallet.services import Credit, SpendStatement, account_for_user, coins_spend, coins_spend_guarded
from apps.wallet.types import AccountKind
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db


def _tip(split: str = "spend.total") -> SpendStatement:
    """A caller's spend: the payer tips a user `coins` when `allowed`; `split` is the amount credited."""
    return SpendStatement(
        guard="spend AS (SELECT %(payer)s::bigint AS payer_id, %(coins)s::bigint AS total, 'tip' AS memo, "
        "NULL::bigint AS created_by, %(to)s::bigint AS to_id WHERE %(allowed)s)",
        credits=(Credit(kind=AccountKind.HOST_EARNINGS, owner="spend.to_id", amount=split),),
        returning="spend.to_id",
    )


@pytest.fixture
def payer_and_host(user, other_user):
    fund(user, 100)
    account_for_user(user_id=other_user.pk, kind=AccountKind.HOST_EARNINGS)
    return user, other_user


def _tip_run(payer, host, *, statement=None, allowed=True, coins=30, ref="t-1"):
    params = {"payer": payer.pk, "coins": coins, "to": host.pk, "allowed": allowed}
    return coins_spend_guarded(statement=statement or _tip(), kind="tip", ref=ref, params=params)


def test_a_guarded_spend_debits_credits_and_returns_the_callers_columns(payer_and_host):
    payer, host = payer_and_host

    spend = _tip_run(payer, host)

    assert spend is not None and spend.balance == 70 and spend.returned == (host.pk,)
    postings = sorted(Posting.objects.filter(entry_id=spend.entry_id).values_list("amount", "applied"))
    assert postings == [(-30, True), (30, False)]  # the host's credit waits for the rollup
    assert ledger_audit() == []


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("guard without a row", {"allowed": False}),
        ("too few coins", {"coins": 101}),
        ("credits short of the total", {"statement": _tip(split="spend.total - 1")}),
    ],
)
def test_a_declined_spend_writes_nothing(case, kwargs, payer_and_host):
    payer, host = payer_and_host

    assert _tip_run(payer, host, **kwargs) is None

    assert not JournalEntry.objects.filter(kind="tip").exists()
    assert coins_balance(user_id=payer.pk) == 100


@pytest.mark.django_db(transaction=True)
def test_a_recorded_ref_raises_and_the_whole_statement_is_undone(payer_and_host):
    payer, host = payer_and_host
    _tip_run(payer, host, ref="once")

    with pytest.raises(DuplicateEntry):
        _tip_run(payer, host, ref="once")

    assert JournalEntry.objects.filter(kind="tip").count() == 1
    assert coins_balance(user_id=payer.pk) == 70
    assert ledger_audit() == []


@pytest.mark.django_db(transaction=True)
def test_a_plain_spend_outside_a_transaction_is_one_round_trip(payer_and_host, django_assert_num_queries):
    payer, host = payer_and_host

    with django_assert_num_queries(1):
        spend = coins_spend(
            payer_id=payer.pk, credits=[(host.pk, AccountKind.HOST_EARNINGS, 25)], kind="tip", ref="plain"
        )

    assert spend.balance == 75 and ledger_audit() == []
