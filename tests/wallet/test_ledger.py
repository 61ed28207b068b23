"""Ledger services: balanced entries, retries, overdrafts, deferred credits, append-only storage."""

import pytest
from django.db import DatabaseError, connection, transaction

from apps.core.exceptions import PermissionDenied
from apps.wallet.exceptions import DuplicateEntry, InsufficientCoins, UnbalancedEntry
from apps.wallet.models import Account, JournalEntry, Posting
from apps.wallet.selectors import coins_balance, ledger_audit, user_balances
from apps.wallet.services import (
    account_for_user,
    coins_grant,
    coins_spend,
    ledger_post,
    ledger_rollup,
    platform_account,
)
from tests.accounts.factories import UserFactory
from tests.wallet.factories import finance_user, fund

pytestmark = pytest.mark.django_db


def test_grant_is_a_balanced_entry_from_issuance(user):
    finance = finance_user()
    grant = coins_grant(user=user, amount=500, reason="welcome", granted_by=finance)
    assert coins_balance(user_id=user.pk) == 500
    assert sorted(Posting.objects.filter(entry=grant.entry).values_list("amount", flat=True)) == [-500, 500]
    assert grant.entry.created_by == finance and grant.entry.memo == "welcome"
    assert ledger_audit() == []


def test_only_finance_may_grant(user):
    staff = UserFactory(is_staff=True)
    with pytest.raises(PermissionDenied):
        coins_grant(user=user, amount=5, reason="because", granted_by=staff)
    assert not JournalEntry.objects.exists()


def test_retry_of_same_kind_and_ref_changes_nothing(user, other_user):
    fund(user, 100)
    postings = [(account_for_user(user_id=user.pk), -30), (account_for_user(user_id=other_user.pk), 30)]
    ledger_post(kind="transfer", ref="t-1", postings=postings)
    with pytest.raises(DuplicateEntry):
        ledger_post(kind="transfer", ref="t-1", postings=postings)
    assert coins_balance(user_id=user.pk) == 70 and coins_balance(user_id=other_user.pk) == 30
    assert ledger_audit() == []


def test_overdraft_is_refused_with_balance_and_nothing_is_written(user, other_user):
    fund(user, 10)
    entries = JournalEntry.objects.count()
    with pytest.raises(InsufficientCoins) as exc:
        ledger_post(
            kind="transfer",
            ref="t-2",
            postings=[(account_for_user(user_id=user.pk), -11), (account_for_user(user_id=other_user.pk), 11)],
        )
    assert exc.value.details == {"balance": 10, "needed": 11}
    assert JournalEntry.objects.count() == entries
    assert coins_balance(user_id=user.pk) == 10


@pytest.mark.parametrize("postings", [[(-5,), (4,)], [(5,)], [(5,), (-5.0,)]])
def test_unbalanced_or_non_integer_entries_are_refused(user, other_user, postings):
    accounts = [account_for_user(user_id=user.pk), account_for_user(user_id=other_user.pk)]
    with pytest.raises((UnbalancedEntry, TypeError)):
        ledger_post(kind="transfer", ref="bad", postings=[(accounts[i], p[0]) for i, p in enumerate(postings)])
    assert not JournalEntry.objects.exists()


def test_spend_appends_credits_and_rollup_folds_them(user, other_user):
    fund(user, 100)
    spend = coins_spend(
        payer_id=user.pk,
        credits=[(other_user.pk, Account.Kind.HOST_EARNINGS, 60), (None, Account.Kind.REVENUE, 40)],
        kind="gift",
        ref="g-1",
    )
    assert spend.balance == 0
    earnings = Account.objects.get(owner=other_user, kind=Account.Kind.HOST_EARNINGS)
    # the host's row was not touched: the credit waits, but the host already sees it
    assert earnings.balance == 0 and user_balances(user=other_user)["earnings"] == 60
    assert ledger_audit() == []
    ledger_rollup()
    earnings.refresh_from_db()
    assert earnings.balance == 60
    assert platform_account(kind=Account.Kind.REVENUE).balance == 40
    assert Posting.objects.filter(applied=False).count() == 0
    assert ledger_audit() == []


def test_spend_refuses_overdraft_and_duplicates(user, other_user):
    fund(user, 50)
    with pytest.raises(InsufficientCoins) as exc:
        coins_spend(payer_id=user.pk, credits=[(other_user.pk, Account.Kind.HOST_EARNINGS, 51)], kind="gift", ref="x")
    assert exc.value.details == {"balance": 50, "needed": 51}
    coins_spend(payer_id=user.pk, credits=[(other_user.pk, Account.Kind.HOST_EARNINGS, 20)], kind="gift", ref="g")
    # a duplicate raises and leaves the surrounding transaction unusable, so it must roll back
    with pytest.raises(DuplicateEntry), transaction.atomic():
        coins_spend(payer_id=user.pk, credits=[(other_user.pk, Account.Kind.HOST_EARNINGS, 20)], kind="gift", ref="g")
    assert coins_balance(user_id=user.pk) == 30
    assert ledger_audit() == []


def test_spend_cannot_credit_spendable_coins(user, other_user):
    with pytest.raises(UnbalancedEntry):
        coins_spend(payer_id=user.pk, credits=[(other_user.pk, Account.Kind.USER_COINS, 5)], kind="gift", ref="x")


def test_ledger_is_append_only_in_the_database(user):
    fund(user, 10)
    entry = JournalEntry.objects.get()
    for sql in (
        "UPDATE wallet_journalentry SET memo = 'edited' WHERE id = %s",
        "DELETE FROM wallet_posting WHERE entry_id = %s",
        "UPDATE wallet_posting SET amount = amount * 2 WHERE entry_id = %s",
        "DELETE FROM wallet_journalentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only|only be marked applied"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [entry.pk])
    assert ledger_audit() == []
