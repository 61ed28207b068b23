"""Every write to the coin ledger. Callers pass a kind and a reference; the wallet never needs to
know what a gift, a game or an OG tier is.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import User
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
    account's row lock (taken in pk order, so concurrent entries cannot deadlock) and refused with
    InsufficientCoins/InsufficientEarnings when they would overdraw. Credits that cannot fail are
    appended unapplied: `ledger_rollup` folds them into balances.

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

    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(kind=kind, ref=ref, memo=memo[:300], created_by=created_by)
    except IntegrityError:
        raise DuplicateEntry(details={"kind": kind, "ref": ref}) from None

    immediate = sorted(pk for pk, amount in merged.items() if _must_apply_now(accounts[pk], amount))
    if immediate:
        locked = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=immediate).order_by("pk")}
        for pk in immediate:
            account, amount = locked[pk], merged[pk]
            if amount < 0:
                available = account.balance
                if account.kind != Account.Kind.USER_COINS:
                    available = _rollup_locked(account)
                if available + amount < 0:
                    error = InsufficientCoins if account.kind == Account.Kind.USER_COINS else InsufficientEarnings
                    raise error(details={"balance": available, "needed": -amount})
            Account.objects.filter(pk=pk).update(balance=F("balance") + amount)

    Posting.objects.bulk_create(
        [Posting(entry=entry, account_id=pk, amount=amount, applied=pk in immediate) for pk, amount in merged.items()]
    )
    return entry


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
