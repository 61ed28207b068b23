"""Every write to the coin ledger. Callers pass a kind and a reference; the wallet never needs to
know what a gift, a game or an OG tier is.
"""

import functools
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import User
from apps.core import metrics
from apps.core.db import prepared_cursor
from apps.core.exceptions import PermissionDenied
from apps.wallet.exceptions import (
    CashoutBelowMinimum,
    CashoutNotPending,
    DuplicateEntry,
    InsufficientCoins,
    InsufficientEarnings,
    UnbalancedEntry,
)
from apps.wallet.models import Account, CashoutRequest, CoinGrant, JournalEntry, Posting
from apps.wallet.selectors import coins_balance

logger = logging.getLogger(__name__)

FINANCE_GROUP = "Finance"


def account_for_user(*, user_id: int, kind: str = Account.Kind.USER_COINS) -> Account:
    """The user's account of that kind, created on first use (race-safe through the unique constraint)."""
    account, _ = Account.objects.get_or_create(owner_id=user_id, kind=kind)
    return account


def platform_account(*, kind: str) -> Account:
    account, _ = Account.objects.get_or_create(owner=None, kind=kind)
    return account


def _must_apply_now(account: Account, amount: int) -> bool:
    # A user's spendable coins are always current (every spend reads them); any debit of a user-owned
    # account must be checked against its balance under lock. Everything else may be deferred.
    return account.kind == Account.Kind.USER_COINS or (account.is_user_account and amount < 0)


def _count_on_commit(kind: str, coins: int) -> None:
    transaction.on_commit(lambda: metrics.coins_moved(kind=kind, coins=coins))


def _entry_create(
    *, kind: str, ref: str, memo: str, created_by_id: int | None, created_at: datetime
) -> JournalEntry | None:
    """Insert the entry, or return None when (kind, ref) exists (a retry): one statement, no savepoint.

    A concurrent twin with the same (kind, ref) makes this wait until it commits (then None) or
    rolls back (then the insert goes ahead).
    """
    table = JournalEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, ref, memo, created_by_id, created_at) VALUES (%s, %s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (kind, ref) DO NOTHING RETURNING id",
            [kind, ref, memo, created_by_id, created_at],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    entry = JournalEntry(id=row[0], kind=kind, ref=ref, memo=memo, created_by_id=created_by_id, created_at=created_at)
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


@transaction.atomic
def ledger_post(
    *,
    kind: str,
    ref: str,
    postings: Sequence[tuple[Account, int]],
    memo: str = "",
    created_by: User | None = None,
) -> JournalEntry:
    """Record one balanced entry and move the coins.

    Postings to the same account are merged. Debits of user accounts are applied under the
    account's row lock (rows are updated in pk order, so concurrent entries cannot deadlock) and
    refused with InsufficientCoins/InsufficientEarnings when they would overdraw. Credits that
    cannot fail are appended unapplied: `ledger_rollup` folds them into balances.

    Raises DuplicateEntry when (kind, ref) was already recorded: retries change nothing.
    """
    merged: dict[int, int] = defaultdict(int)
    accounts: dict[int, Account] = {}
    for account, amount in postings:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError("ledger amounts are integers")
        merged[account.pk] += amount
        accounts[account.pk] = account
    merged = {pk: amount for pk, amount in merged.items() if amount != 0}
    if sum(merged.values()) != 0 or len(merged) < 2:
        raise UnbalancedEntry(details={"postings": {str(pk): amount for pk, amount in merged.items()}})

    entry = _entry_create(
        kind=kind,
        ref=ref,
        memo=memo[:300],
        created_by_id=created_by.pk if created_by else None,
        created_at=timezone.now(),
    )
    if entry is None:
        raise DuplicateEntry(details={"kind": kind, "ref": ref})

    immediate = sorted(pk for pk, amount in merged.items() if _must_apply_now(accounts[pk], amount))
    for pk in immediate:
        account, amount = accounts[pk], merged[pk]
        if amount < 0 and account.kind == Account.Kind.USER_COINS:
            # The conditional UPDATE takes the row lock and re-checks the balance on the newest row
            # version, so concurrent spends of one balance cannot both pass.
            if not Account.objects.filter(pk=pk, balance__gte=-amount).update(balance=F("balance") + amount):
                balance = Account.objects.filter(pk=pk).values_list("balance", flat=True).first() or 0
                raise InsufficientCoins(details={"balance": balance, "needed": -amount})
        elif amount < 0:
            # Earnings have credits waiting for the rollup: fold them in under the lock, then check.
            locked = Account.objects.select_for_update().get(pk=pk)
            available = _rollup_locked(locked)
            if available + amount < 0:
                raise InsufficientEarnings(details={"balance": available, "needed": -amount})
            Account.objects.filter(pk=pk).update(balance=F("balance") + amount)
        else:
            Account.objects.filter(pk=pk).update(balance=F("balance") + amount)

    Posting.objects.bulk_create(
        [Posting(entry=entry, account_id=pk, amount=amount, applied=pk in immediate) for pk, amount in merged.items()]
    )
    _count_on_commit(kind, sum(amount for amount in merged.values() if amount > 0))
    return entry


@dataclass(frozen=True)
class Spend:
    """What `coins_spend` recorded."""

    entry_id: int
    created_at: datetime
    balance: int  # the payer's spendable coins afterwards


@functools.cache
def _spend_sql(platform: tuple[bool, ...]) -> str:
    """The one statement of `coins_spend`; `platform` says which credits go to platform accounts."""
    account, entry, posting = Account._meta.db_table, JournalEntry._meta.db_table, Posting._meta.db_table
    # One indexed lookup per credit: (owner, kind) and the platform's (kind) are unique.
    credit_rows = " UNION ALL ".join(
        f"SELECT id, %(amount{i})s::bigint AS amount FROM {account} "  # noqa: S608
        + ("WHERE owner_id IS NULL" if is_platform else f"WHERE owner_id = %(owner{i})s")
        + f" AND kind = %(kind{i})s"
        for i, is_platform in enumerate(platform)
    )
    return f"""
WITH credit AS ({credit_rows}),
debit AS (
    UPDATE {account} SET balance = balance - %(total)s
    WHERE owner_id = %(payer)s AND kind = 'user_coins' AND balance >= %(total)s
      AND (SELECT count(*) FROM credit) = %(n_credits)s
    RETURNING id, balance
),
entry AS (
    INSERT INTO {entry} (kind, ref, memo, created_by_id, created_at)
    SELECT %(kind)s, %(ref)s, %(memo)s, %(created_by)s::bigint, %(at)s FROM debit
    ON CONFLICT (kind, ref) DO NOTHING
    RETURNING id
),
posted AS (
    INSERT INTO {posting} (entry_id, account_id, amount, applied)
    SELECT entry.id, debit.id, -%(total)s, true FROM entry CROSS JOIN debit
    UNION ALL
    SELECT entry.id, credit.id, credit.amount, false FROM entry CROSS JOIN credit
    RETURNING 1
)
SELECT (SELECT count(*) FROM credit), (SELECT balance FROM debit), (SELECT id FROM entry), (SELECT count(*) FROM posted)
"""  # noqa: S608


def coins_spend(
    *,
    payer_id: int,
    credits: Sequence[tuple[int | None, str, int]],
    kind: str,
    ref: str,
    memo: str = "",
    created_by_id: int | None = None,
) -> Spend:
    """Spend a user's coins: debit their spendable coins, credit each (owner_id or None, account kind,
    coins) as one balanced entry. The hot path of gifts: on PostgreSQL it is ONE statement.

    The payer's debit is checked and applied under the payer's row lock; the credits are appended
    unapplied (never locking a popular host's row) and folded in by `ledger_rollup`. Credits go to
    earnings or platform accounts only. Raises InsufficientCoins (nothing written) or DuplicateEntry
    when (kind, ref) exists. It opens no savepoint (two round trips saved): after DuplicateEntry the
    surrounding transaction is marked for rollback and cannot go on, which is what a request wants.
    """
    merged: dict[tuple[int | None, str], int] = defaultdict(int)
    for owner_id, account_kind, amount in credits:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise UnbalancedEntry("Credits are positive integers.")
        if account_kind == Account.Kind.USER_COINS or (owner_id is None) == (account_kind in Account.USER_KINDS):
            raise UnbalancedEntry(f"coins_spend cannot credit {account_kind} of {owner_id}.")
        merged[(owner_id, account_kind)] += amount
    total = sum(merged.values())
    if not merged:
        raise UnbalancedEntry("A spend needs at least one credit.")
    memo = memo[:300]
    at = timezone.now()

    if connection.vendor != "postgresql":  # the embedded default: the general path does the same
        with transaction.atomic():
            postings = [(account_for_user(user_id=payer_id), -total)]
            for (owner_id, account_kind), amount in merged.items():
                account = (
                    account_for_user(user_id=owner_id, kind=account_kind)
                    if owner_id is not None
                    else platform_account(kind=account_kind)
                )
                postings.append((account, amount))
            created_by = User(pk=created_by_id) if created_by_id else None
            entry = ledger_post(kind=kind, ref=ref, postings=postings, memo=memo, created_by=created_by)
            return Spend(entry_id=entry.pk, created_at=entry.created_at, balance=coins_balance(user_id=payer_id))

    params: dict[str, object] = {
        "payer": payer_id,
        "total": total,
        "n_credits": len(merged),
        "kind": kind,
        "ref": ref,
        "memo": memo,
        "created_by": created_by_id,
        "at": at,
    }
    owners: list[tuple[int | None, str]] = list(merged)
    for i, (owner_id, account_kind) in enumerate(owners):
        params[f"owner{i}"], params[f"kind{i}"], params[f"amount{i}"] = owner_id, account_kind, merged[owners[i]]
    sql = _spend_sql(tuple(owner_id is None for owner_id, _ in owners))
    with transaction.atomic(savepoint=False):
        for _attempt in range(2):
            with prepared_cursor() as cursor:  # planned once per connection
                cursor.execute(sql, params)
                found, balance, entry_id, posted = cursor.fetchone()
            if found == len(owners):
                break
            # Nothing was written: a credit account does not exist yet (a host's first gift). Create
            # them (race-safe) and run the statement once more.
            for owner_id, account_kind in owners:
                if owner_id is None:
                    platform_account(kind=account_kind)
                else:
                    account_for_user(user_id=owner_id, kind=account_kind)
        else:  # pragma: no cover - the accounts exist after the first pass
            raise RuntimeError("coins_spend could not find its credit accounts")
        if balance is not None and entry_id is None:
            raise DuplicateEntry(details={"kind": kind, "ref": ref})  # the debit ran: the caller rolls back
        if balance is not None and posted != len(owners) + 1:  # pragma: no cover - a wrong statement
            raise RuntimeError(f"coins_spend wrote {posted} postings for {len(owners) + 1}")
        if balance is not None:
            _count_on_commit(kind, total)
    if balance is None:  # nothing was written: the surrounding transaction may go on
        raise InsufficientCoins(details={"balance": coins_balance(user_id=payer_id), "needed": total})
    return Spend(entry_id=entry_id, created_at=at, balance=balance)


def _rollup_locked(account: Account) -> int:
    """Fold the account's unapplied postings into its balance. Caller holds the account's row lock.

    Returns the new balance. Rows are picked by id, so a credit committing meanwhile is neither
    counted nor marked: it waits for the next rollup.
    """
    pending = list(Posting.objects.filter(account=account, applied=False).values_list("pk", "amount")[:50_000])
    if not pending:
        return account.balance
    total = sum(amount for _, amount in pending)
    Posting.objects.filter(pk__in=[pk for pk, _ in pending]).update(applied=True)
    Account.objects.filter(pk=account.pk).update(balance=F("balance") + total)
    account.refresh_from_db(fields=["balance"])
    return account.balance


def ledger_rollup(*, account_ids: Sequence[int] | None = None) -> int:
    """Fold pending credits into stored balances, one account per transaction. Returns accounts rolled up."""
    if account_ids is None:
        account_ids = list(Posting.objects.filter(applied=False).values_list("account_id", flat=True).distinct())
    for account_id in account_ids:
        with transaction.atomic():
            account = Account.objects.select_for_update().get(pk=account_id)
            _rollup_locked(account)
    return len(account_ids)


def _is_finance(user: User) -> bool:
    return user.is_superuser or user.groups.filter(name=FINANCE_GROUP).exists()


@transaction.atomic
def coins_grant(*, user: User, amount: int, reason: str, granted_by: User) -> CoinGrant:
    """Give a user coins from the issuance account (Finance staff only, with a reason)."""
    if not _is_finance(granted_by):
        raise PermissionDenied("Only Finance staff may grant coins.")
    if amount <= 0 or not reason.strip():
        raise UnbalancedEntry("A grant needs a positive amount and a reason.")
    entry = ledger_post(
        kind="grant",
        ref=uuid.uuid4().hex,
        postings=[(platform_account(kind=Account.Kind.ISSUANCE), -amount), (account_for_user(user_id=user.pk), amount)],
        memo=reason,
        created_by=granted_by,
    )
    grant = CoinGrant.objects.create(user=user, amount=amount, reason=reason, granted_by=granted_by, entry=entry)
    logger.info("coins granted", extra={"user_id": user.pk, "amount": amount, "by": granted_by.pk})
    return grant


@transaction.atomic
def cashout_request(*, host: User, coins: int) -> CashoutRequest:
    """Move earnings into review for payout in NPR at the current rate."""
    if coins < settings.CASHOUT_MIN_COINS:
        raise CashoutBelowMinimum(details={"minimum": settings.CASHOUT_MIN_COINS, "requested": coins})
    rate = settings.CASHOUT_PAISA_PER_COIN
    request = CashoutRequest.objects.create(host=host, coins=coins, paisa_per_coin=rate, amount_paisa=coins * rate)
    ledger_post(
        kind="cashout_request",
        ref=str(request.pk),
        postings=[
            (account_for_user(user_id=host.pk, kind=Account.Kind.HOST_EARNINGS), -coins),
            (platform_account(kind=Account.Kind.CASHOUT_HOLD), coins),
        ],
        created_by=host,
    )
    return request


def _cashout_review(*, request_id: int, reviewer: User, approve: bool, note: str) -> CashoutRequest:
    if not _is_finance(reviewer):
        raise PermissionDenied("Only Finance staff may review cash-outs.")
    request = CashoutRequest.objects.select_for_update().get(pk=request_id)
    if request.status != CashoutRequest.Status.REQUESTED:
        raise CashoutNotPending(details={"status": request.status})
    hold = platform_account(kind=Account.Kind.CASHOUT_HOLD)
    if approve:
        target = platform_account(kind=Account.Kind.PAYOUTS)
    else:
        target = account_for_user(user_id=request.host_id, kind=Account.Kind.HOST_EARNINGS)
    ledger_post(
        kind="cashout_paid" if approve else "cashout_rejected",
        ref=str(request.pk),
        postings=[(hold, -request.coins), (target, request.coins)],
        memo=note,
        created_by=reviewer,
    )
    request.status = CashoutRequest.Status.APPROVED if approve else CashoutRequest.Status.REJECTED
    request.reviewed_by = reviewer
    request.review_note = note[:300]
    request.reviewed_at = timezone.now()
    request.save(update_fields=["status", "reviewed_by", "review_note", "reviewed_at"])
    return request


@transaction.atomic
def cashout_approve(*, request_id: int, reviewer: User, note: str = "") -> CashoutRequest:
    """Finance paid the host: the held coins leave the platform as NPR."""
    return _cashout_review(request_id=request_id, reviewer=reviewer, approve=True, note=note)


@transaction.atomic
def cashout_reject(*, request_id: int, reviewer: User, note: str) -> CashoutRequest:
    """Refuse a cash-out: the held coins go back to the host's earnings."""
    return _cashout_review(request_id=request_id, reviewer=reviewer, approve=False, note=note)
