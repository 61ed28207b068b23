"""Every write to the coin ledger. Callers pass a kind and a reference; the wallet never needs to
know what a gift, a game or an OG tier is.
"""

import functools
import hmac
import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy
from PIL import Image, ImageOps
from rest_framework import serializers

from apps.accounts.faces import face_distance
from apps.accounts.models import User
from apps.accounts.selectors import user_face_descriptor_get
from apps.accounts.services import require_not_own, user_require_verified_age, user_require_verified_phone
from apps.core import metrics
from apps.core.db import prepared_cursor
from apps.core.exceptions import PermissionDenied
from apps.wallet.exceptions import (
    CashoutBelowMinimum,
    CashoutHeld,
    CashoutNotPayable,
    CashoutNotPending,
    DuplicateEntry,
    InsufficientCoins,
    InsufficientEarnings,
    KycAlreadySubmitted,
    KycNotPending,
    KycRequired,
    PayoutCodeWrong,
    PayoutDestinationExists,
    PayoutDestinationInUse,
    PayoutDestinationNotAwaitingCode,
    PayoutDestinationNotFound,
    PayoutDestinationNotVerified,
    PayoutDestinationRequired,
    PayoutLineSettled,
    UnbalancedEntry,
)
from apps.wallet.models import (
    Account,
    CashoutHold,
    CashoutRequest,
    CoinGrant,
    JournalEntry,
    KycSubmission,
    PayoutBatch,
    PayoutDestination,
    PayoutLine,
    Posting,
)
from apps.wallet.selectors import coins_balance, earnings_reached_by_spends
from apps.wallet.signals import cashout_reviewed
from apps.wallet.spending import spending_allows_sql as spending_allows_sql  # their SQL twins
from apps.wallet.spending import spending_check as spending_check  # spending controls, for the spends above
from apps.wallet.spending import spending_controls_update as spending_controls_update
from apps.wallet.spending import spending_lock_sql as spending_lock_sql
from apps.wallet.spending import spending_record as spending_record
from apps.wallet.spending import spending_sql_params as spending_sql_params
from apps.wallet.spending import spending_tally_sql as spending_tally_sql
from apps.wallet.statements import AT_PARAM, KIND_PARAM, REF_PARAM, RESULT_COLUMNS, spend_sql
from apps.wallet.statements import Credit as Credit  # the parts of a guarded spend that callers describe
from apps.wallet.statements import SpendStatement as SpendStatement
from apps.wallet.types import AccountKind

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
    """What `coins_spend` (or `coins_spend_guarded`) recorded."""

    entry_id: int
    created_at: datetime
    balance: int  # the payer's spendable coins afterwards
    coins: int  # spent
    returned: tuple[Any, ...] = ()  # a guarded spend's `returning` columns


def coins_spend_guarded(
    *, statement: SpendStatement, kind: str, ref: str, params: Mapping[str, Any], at: datetime | None = None
) -> Spend | None:
    """Run a caller's one-statement spend (PostgreSQL only): the caller's guard, the wallet's debit,
    entry and postings, the caller's record, in ONE prepared statement and one round trip.

    Returns None when the statement declined (the guard had no row, the payer had too few coins, or
    a credit account does not exist yet): nothing was written and the caller finds out why. Raises
    DuplicateEntry when (kind, ref) was recorded before: the statement was undone (inside a
    transaction, that transaction can no longer be used: run it in a savepoint to go on).
    `params` are the guard's and the record's parameters.
    """
    at = at or timezone.now()
    sql = spend_sql(statement)
    try:
        with prepared_cursor() as cursor:  # planned once per connection: planning cost as much as running
            cursor.execute(sql, {**params, KIND_PARAM: kind, REF_PARAM: ref, AT_PARAM: at})
            row = cursor.fetchone()
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != JournalEntry.REF_CONSTRAINT:
            raise
        raise DuplicateEntry(details={"kind": kind, "ref": ref}) from exc
    if row is None:
        return None
    entry_id, balance, total, posted = row[:RESULT_COLUMNS]
    if posted < 2:  # pragma: no cover - a wrong statement
        raise RuntimeError(f"spend {kind}:{ref} wrote {posted} postings")
    _count_on_commit(kind, total)
    return Spend(entry_id=entry_id, created_at=at, balance=balance, coins=total, returned=tuple(row[RESULT_COLUMNS:]))


@functools.cache
def _plain_statement(credits: tuple[tuple[AccountKind, bool], ...]) -> SpendStatement:
    """`coins_spend` as a guarded spend whose guard is its parameters: (kind, to the platform) per credit."""
    columns = "".join(
        f", %(owner{i})s::bigint AS owner{i}, %(amount{i})s::bigint AS amount{i}" for i in range(len(credits))
    )
    return SpendStatement(
        guard="spend AS (SELECT %(payer)s::bigint AS payer_id, %(total)s::bigint AS total, %(memo)s::text AS memo, "
        f"%(created_by)s::bigint AS created_by{columns})",
        credits=tuple(
            Credit(kind=kind, amount=f"spend.amount{i}", owner=None if to_platform else f"spend.owner{i}")
            for i, (kind, to_platform) in enumerate(credits)
        ),
    )


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
    coins) as one balanced entry. On PostgreSQL it is ONE statement (`coins_spend_guarded`).

    The payer's debit is checked and applied under the payer's row lock; the credits are appended
    unapplied (never locking a popular host's row) and folded in by `ledger_rollup`. Credits go to
    earnings or platform accounts only. Raises InsufficientCoins (nothing written) or DuplicateEntry
    when (kind, ref) exists. It opens no savepoint: after DuplicateEntry a surrounding transaction
    cannot go on, which is what a request wants.
    """
    merged: dict[tuple[int | None, str], int] = defaultdict(int)
    for owner_id, account_kind, amount in credits:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise UnbalancedEntry("Credits are positive integers.")
        if account_kind == AccountKind.USER_COINS or (owner_id is None) == (account_kind in Account.USER_KINDS):
            raise UnbalancedEntry(f"coins_spend cannot credit {account_kind} of {owner_id}.")
        merged[(owner_id, account_kind)] += amount
    total = sum(merged.values())
    if not merged:
        raise UnbalancedEntry("A spend needs at least one credit.")
    memo = memo[:300]

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
            balance = coins_balance(user_id=payer_id)
            return Spend(entry_id=entry.pk, created_at=entry.created_at, balance=balance, coins=total)

    owners = list(merged)
    statement = _plain_statement(tuple((AccountKind(k), owner_id is None) for owner_id, k in owners))
    params: dict[str, Any] = {"payer": payer_id, "total": total, "memo": memo, "created_by": created_by_id}
    for i, key in enumerate(owners):
        params[f"owner{i}"], params[f"amount{i}"] = key[0], merged[key]
    spend = coins_spend_guarded(statement=statement, kind=kind, ref=ref, params=params)
    if spend is None:
        # Nothing was written. A credit account may not exist yet (a host's first gift): create them
        # (race-safe) and try once more; declining again means too few coins.
        for owner_id, account_kind in owners:
            if owner_id is None:
                platform_account(kind=account_kind)
            else:
                account_for_user(user_id=owner_id, kind=account_kind)
        spend = coins_spend_guarded(statement=statement, kind=kind, ref=ref, params=params)
    if spend is None:
        raise InsufficientCoins(details={"balance": coins_balance(user_id=payer_id), "needed": total})
    return spend


def coins_account_lock(*, user_id: int) -> None:
    """Lock the user's spendable-coins account row until the transaction ends (created on first use).

    The per-user lock of OG purchases and game rounds: one user's purchases or rounds run one at a
    time. It is the row every debit of the user's coins locks, so it adds no second lock order.
    """
    account = account_for_user(user_id=user_id)
    Account.objects.select_for_update().get(pk=account.pk)


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


def finance_staff_require(*, user: User, action: str) -> None:
    """Refuse anyone but Finance staff (or a superuser); `action` reads "… may <action>."."""
    if not _is_finance(user):
        raise PermissionDenied(f"Only Finance staff may {action}.")


@transaction.atomic
def coins_grant(*, user: User, amount: int, reason: str, granted_by: User) -> CoinGrant:
    """Give a user coins from the issuance account (Finance staff only, with a reason)."""
    if not _is_finance(granted_by):
        raise PermissionDenied("Only Finance staff may grant coins.")
    require_not_own(actor=granted_by, owner_id=user.pk)
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


_PAYOUT_PHONE_MESSAGE = gettext_lazy(
    "Payouts need a verified phone number. Verify yours under Account (we text you a code), then try again."
)


def cashout_tax_coins(*, coins: int) -> int:
    """Earnings withheld as tax from a cash-out of `coins` at the configured rate (rounded half up)."""
    rate: int = settings.CASHOUT_TAX_BASIS_POINTS
    return (coins * rate + 5_000) // 10_000


@transaction.atomic
def cashout_request(*, host: User, coins: int, destination_id: int | None = None) -> CashoutRequest:
    """Move earnings into review for payout in NPR at the current rate, to one of the host's confirmed
    destinations (without `destination_id`: their only one). Needs a verified age and an approved KYC;
    the cash-out can enter a payout batch after the hold period, and the tax is fixed now at the
    configured rate."""
    user_require_verified_phone(user=host, message=_PAYOUT_PHONE_MESSAGE)
    user_require_verified_age(
        user=host,
        message=gettext_lazy(
            "Cashing out needs a verified age. Take the selfie age check under Age verification, then try again."
        ),
    )
    if not KycSubmission.objects.filter(user=host, status=KycSubmission.Status.APPROVED).exists():
        raise KycRequired()
    destination = (
        _destination_of(host=host, destination_id=destination_id)
        if destination_id is not None
        else _only_verified_destination_of(host=host)
    )
    if destination.status != PayoutDestination.Status.VERIFIED:
        raise PayoutDestinationNotVerified(details={"status": destination.status})
    if coins < settings.CASHOUT_MIN_COINS:
        raise CashoutBelowMinimum(details={"minimum": settings.CASHOUT_MIN_COINS, "requested": coins})
    rate = settings.CASHOUT_PAISA_PER_COIN
    tax_coins = cashout_tax_coins(coins=coins)
    request = CashoutRequest.objects.create(
        host=host,
        coins=coins,
        paisa_per_coin=rate,
        amount_paisa=coins * rate,
        destination=destination,
        tax_coins=tax_coins,
        tax_paisa=tax_coins * rate,
        net_paisa=(coins - tax_coins) * rate,
        payable_at=timezone.now() + timedelta(hours=settings.CASHOUT_HOLD_HOURS),
    )
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


def _cashout_paid_post(*, request: CashoutRequest, by: User, memo: str) -> None:
    """The held coins leave the platform: the net as paid out, the tax as withheld for the tax office."""
    postings = [
        (platform_account(kind=Account.Kind.CASHOUT_HOLD), -request.coins),
        (platform_account(kind=Account.Kind.PAYOUTS), request.coins - request.tax_coins),
    ]
    if request.tax_coins:
        postings.append((platform_account(kind=Account.Kind.TAX_WITHHELD), request.tax_coins))
    ledger_post(kind="cashout_paid", ref=str(request.pk), postings=postings, memo=memo, created_by=by)


def _cashout_returned_post(*, request: CashoutRequest, kind: str, by: User, memo: str) -> None:
    """The held coins, tax included, go back to the host's earnings."""
    ledger_post(
        kind=kind,
        ref=str(request.pk),
        postings=[
            (platform_account(kind=Account.Kind.CASHOUT_HOLD), -request.coins),
            (account_for_user(user_id=request.host_id, kind=Account.Kind.HOST_EARNINGS), request.coins),
        ],
        memo=memo,
        created_by=by,
    )


def _cashout_require_payable(*, request: CashoutRequest, now: datetime) -> None:
    """What a payout batch checks before money leaves, for any path that pays a cash-out: the hold
    period is over, the destination is confirmed and the host's identity check approved. Active
    holds are checked apart, under the host's earnings lock."""
    if request.payable_at is None or request.payable_at > now:
        raise CashoutNotPayable(
            details={
                "reason": "hold_period",
                "payable_at": request.payable_at.isoformat() if request.payable_at else None,
            }
        )
    status = (
        PayoutDestination.objects.filter(pk=request.destination_id).values_list("status", flat=True).first()
        if request.destination_id is not None
        else None
    )
    if status != PayoutDestination.Status.VERIFIED:
        raise CashoutNotPayable(details={"reason": "destination", "status": status or "none"})
    if not KycSubmission.objects.filter(user_id=request.host_id, status=KycSubmission.Status.APPROVED).exists():
        raise CashoutNotPayable(details={"reason": "kyc"})


def _cashout_review(*, request_id: int, reviewer: User, approve: bool, note: str) -> CashoutRequest:
    if not _is_finance(reviewer):
        raise PermissionDenied("Only Finance staff may review cash-outs.")
    request = CashoutRequest.objects.select_for_update().get(pk=request_id)
    if request.status != CashoutRequest.Status.REQUESTED:
        raise CashoutNotPending(details={"status": request.status})
    require_not_own(actor=reviewer, owner_id=request.host_id)
    if approve:
        _cashout_require_payable(request=request, now=timezone.now())
        # Holds are placed under the host's earnings lock: taking it here, an approval either sees a
        # hold placed meanwhile or committed before the hold was placed.
        _earnings_lock(host_id=request.host_id)
        reasons = list(_active_holds(host_id=request.host_id).values_list("reason", flat=True))
        if reasons:
            raise CashoutHeld(details={"cashout_id": request.pk, "reasons": reasons})
        _cashout_paid_post(request=request, by=reviewer, memo=note)
    else:
        _cashout_returned_post(request=request, kind="cashout_rejected", by=reviewer, memo=note)
    request.status = CashoutRequest.Status.APPROVED if approve else CashoutRequest.Status.REJECTED
    request.reviewed_by = reviewer
    request.review_note = note[:300]
    request.reviewed_at = timezone.now()
    request.save(update_fields=["status", "reviewed_by", "review_note", "reviewed_at"])
    cashout_reviewed.send(
        sender=CashoutRequest, cashout_id=request.pk, host_id=request.host_id, approved=approve, coins=request.coins
    )
    return request


@transaction.atomic
def cashout_approve(*, request_id: int, reviewer: User, note: str = "") -> CashoutRequest:
    """Finance paid the host outside a batch: the held coins leave the platform as NPR. The batch's
    rules hold here too (hold period over, destination confirmed, KYC approved, no active hold).
    No view or admin action calls it: the admin pays through batches, which record the provider's
    reference."""
    return _cashout_review(request_id=request_id, reviewer=reviewer, approve=True, note=note)


@transaction.atomic
def cashout_reject(*, request_id: int, reviewer: User, note: str) -> CashoutRequest:
    """Refuse a cash-out: the held coins go back to the host's earnings."""
    return _cashout_review(request_id=request_id, reviewer=reviewer, approve=False, note=note)


# --- Cash-out holds -----------------------------------------------------------------------------


def _earnings_lock(*, host_id: int) -> Account:
    """Lock the host's earnings account row (created on first use) until the transaction ends."""
    account = account_for_user(user_id=host_id, kind=Account.Kind.HOST_EARNINGS)
    return Account.objects.select_for_update().get(pk=account.pk)


def _active_holds(*, host_id: int) -> "QuerySet[CashoutHold]":
    return CashoutHold.objects.filter(host_id=host_id, released_at__isnull=True)


@transaction.atomic
def cashout_hold_place(*, host_id: int, source: str, ref: str, reason: str) -> CashoutHold:
    """Make the host's cash-outs wait until the hold is released (placing it again changes nothing).

    Taken under the host's earnings lock, the lock `cashout_approve` checks holds under.
    """
    _earnings_lock(host_id=host_id)
    hold, created = CashoutHold.objects.get_or_create(
        source=source, ref=ref, host_id=host_id, defaults={"reason": reason[:300]}
    )
    if created:
        logger.info("cash-out hold placed", extra={"host_id": host_id, "source": source, "ref": ref})
    return hold


@transaction.atomic
def cashout_holds_release(*, source: str, ref: str, by: User | None, note: str) -> int:
    """Release every active hold placed under (source, ref). Returns how many were released."""
    released = CashoutHold.objects.filter(source=source, ref=ref, released_at__isnull=True).update(
        released_at=timezone.now(), released_by=by, release_note=note[:300]
    )
    if released:
        logger.info("cash-out holds released", extra={"source": source, "ref": ref, "count": released})
    return released


# --- Refunded top-ups whose coins were spent -----------------------------------------------------


@dataclass(frozen=True)
class ShortfallSettlement:
    """How `refund_shortfall_settle` covered the coins: from the payer, from hosts, written off."""

    entry: JournalEntry
    from_payer: int
    from_hosts: dict[int, int]  # host id -> coins taken from their earnings
    written_off: int


@transaction.atomic
def refund_shortfall_settle(
    *,
    payer_id: int,
    coins: int,
    kind: str,
    ref: str,
    claw_back_after_entry_id: int | None,
    memo: str,
    created_by: User,
) -> ShortfallSettlement:
    """Return `coins` to the issuance account for money that went back to the payer, as ONE entry.

    What the payer still has is taken first. With `claw_back_after_entry_id`, the earnings that the
    payer's spends after that entry credited to hosts are taken next, from what each host still
    holds (never more than the payer's coins gave them; largest first). The rest is written off to
    the platform's write-off account. Raises DuplicateEntry when (kind, ref) was recorded before.

    Locks the payer's spendable coins and the hosts' earnings in pk order: a cash-out racing the
    claw back either took its coins first (less is clawed back, more written off) or finds them gone.
    """
    if not isinstance(coins, int) or isinstance(coins, bool) or coins <= 0:
        raise UnbalancedEntry("A settlement covers a positive number of coins.")
    payer_account = account_for_user(user_id=payer_id)
    reached: dict[int, int] = {}
    if claw_back_after_entry_id is not None:
        reached = {
            host_id: given
            for host_id, given in earnings_reached_by_spends(
                payer_id=payer_id, after_entry_id=claw_back_after_entry_id
            ).items()
            if host_id != payer_id
        }
    host_accounts = {host_id: account_for_user(user_id=host_id, kind=Account.Kind.HOST_EARNINGS) for host_id in reached}
    locked = {
        account.pk: account
        for account in Account.objects.select_for_update()
        .filter(pk__in=[payer_account.pk, *(a.pk for a in host_accounts.values())])
        .order_by("pk")
    }
    owed = coins
    from_payer = min(owed, locked[payer_account.pk].balance)
    owed -= from_payer
    from_hosts: dict[int, int] = {}
    for host_id, given in sorted(reached.items(), key=lambda item: (-item[1], item[0])):
        if owed == 0:
            break
        take = min(owed, given, _rollup_locked(locked[host_accounts[host_id].pk]))
        if take > 0:
            from_hosts[host_id] = take
            owed -= take
    postings: list[tuple[Account, int]] = [(platform_account(kind=Account.Kind.ISSUANCE), coins)]
    if from_payer:
        postings.append((payer_account, -from_payer))
    postings += [(host_accounts[host_id], -take) for host_id, take in from_hosts.items()]
    if owed:
        postings.append((platform_account(kind=Account.Kind.WRITE_OFF), -owed))
    entry = ledger_post(kind=kind, ref=ref, postings=postings, memo=memo, created_by=created_by)
    logger.info(
        "refund shortfall settled",
        extra={"payer_id": payer_id, "coins": coins, "from_payer": from_payer, "written_off": owed, "ref": ref},
    )
    return ShortfallSettlement(entry=entry, from_payer=from_payer, from_hosts=from_hosts, written_off=owed)


# --- KYC -----------------------------------------------------------------------------------------


@transaction.atomic
def kyc_submit(
    *,
    user: User,
    legal_name: str,
    document_type: str,
    document_number: str,
    date_of_birth: date,
    id_image: UploadedFile,
    selfie: UploadedFile,
) -> KycSubmission:
    """Send identity details, an ID image and a selfie for Finance to review (one open at a time).

    The account's age must be verified first, and the date of birth must be the account's own: the
    ID is matched against what the age check verified.
    """
    user_require_verified_phone(user=user, message=_PAYOUT_PHONE_MESSAGE)
    user_require_verified_age(
        user=user,
        message=gettext_lazy("The identity check needs a verified age. Take the selfie age check first."),
    )
    latest = KycSubmission.objects.filter(user=user).order_by("-pk").first()
    if latest is not None and latest.status != KycSubmission.Status.REJECTED:
        raise KycAlreadySubmitted(details={"status": latest.status})
    if user.date_of_birth != date_of_birth:
        raise serializers.ValidationError(
            {"date_of_birth": [gettext_lazy("This is not the date of birth on your account.")]}
        )
    try:
        with transaction.atomic():
            submission = KycSubmission.objects.create(
                user=user,
                legal_name=legal_name.strip(),
                document_type=document_type,
                document_number=document_number.strip(),
                date_of_birth=date_of_birth,
                id_image=id_image,
                selfie=selfie,
            )
    except IntegrityError:  # a concurrent twin got in first (kyc_one_pending_per_user)
        raise KycAlreadySubmitted(details={"status": KycSubmission.Status.PENDING}) from None
    logger.info("kyc submitted", extra={"user_id": user.pk, "submission_id": submission.pk})
    _queue_face_match(submission_id=submission.pk)
    return submission


def _queue_face_match(*, submission_id: int) -> None:
    from apps.wallet.tasks import kyc_face_match_task

    transaction.on_commit(lambda: kyc_face_match_task.delay(submission_id))


def _id_image_read(submission: KycSubmission) -> Image.Image | None:
    """The ID photo upright as the phone showed it (EXIF rotation applied), or None when it cannot be
    decoded or has more pixels than any image we decode (MODERATION_IMAGE_MAX_PIXELS, as for selfies)."""
    try:
        with submission.id_image.open("rb") as fh:
            image = Image.open(fh)
            if image.width * image.height > settings.MODERATION_IMAGE_MAX_PIXELS:
                return None
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return ImageOps.exif_transpose(image)


def kyc_face_match(*, submission_id: int) -> KycSubmission:
    """Compare the face on a waiting submission's ID photo with the host's age-check selfie (its kept
    descriptor) and record the verdict and distance for Finance. A mismatch only flags: Finance decides.

    Safe to rerun (the task may be retried, Finance may ask again): a decided submission is left as it
    was decided. The model runs outside any transaction; the row is written only while still waiting.
    """
    from apps.accounts.faces import face_describer

    submission = KycSubmission.objects.get(pk=submission_id)
    if submission.status != KycSubmission.Status.PENDING:
        return submission
    Verdict = KycSubmission.FaceMatch
    stored = user_face_descriptor_get(user_id=submission.user_id)
    image = None if stored is None else _id_image_read(submission)
    distance: float | None = None
    version = ""
    if stored is None:  # verified before descriptors were kept
        verdict = Verdict.NO_SELFIE
    elif image is None:
        verdict = Verdict.UNREADABLE
    else:
        describer = face_describer()
        faces = describer.describe(image)
        version = describer.version
        if not faces:
            verdict = Verdict.NO_FACE
        else:
            distance = round(min(face_distance(face.descriptor, stored.descriptor) for face in faces), 4)
            if len(faces) > 1:
                # The closest face is recorded, but a photo of the ID held next to someone's own face
                # has the holder's face too: Finance looks.
                verdict = Verdict.SEVERAL_FACES
            elif distance < settings.KYC_FACE_MATCH_THRESHOLD:
                verdict = Verdict.MATCH
            else:
                verdict = Verdict.NO_MATCH
    written = KycSubmission.objects.filter(pk=submission_id, status=KycSubmission.Status.PENDING).update(
        face_match=verdict, face_distance=distance, face_model_version=version, face_checked_at=timezone.now()
    )
    logger.info(
        "kyc face match",
        extra={"submission_id": submission_id, "face_match": verdict, "distance": distance, "written": written},
    )
    submission.refresh_from_db()
    return submission


@transaction.atomic
def kyc_decide(*, submission_id: int, reviewer: User, approve: bool, note: str = "") -> KycSubmission:
    """Finance approves or rejects a waiting submission (a rejection needs a note the host is shown; so
    does an approval the face match did not back: its note records why).

    The decided row is never changed again: it records who decided, when and why.
    """
    finance_staff_require(user=reviewer, action="review identity checks")
    submission = KycSubmission.objects.select_for_update().get(pk=submission_id)
    require_not_own(actor=reviewer, owner_id=submission.user_id)
    if submission.status != KycSubmission.Status.PENDING:
        raise KycNotPending(details={"status": submission.status})
    if not approve and not note.strip():
        raise serializers.ValidationError({"note": ["Say why, for the host."]})
    if approve and submission.face_match != KycSubmission.FaceMatch.MATCH and not note.strip():
        # Overriding the face match is allowed, but on the record: the note says why.
        raise serializers.ValidationError(
            {"note": [f"The face check says: {submission.get_face_match_display()}. Say why you approve."]}
        )
    submission.status = KycSubmission.Status.APPROVED if approve else KycSubmission.Status.REJECTED
    submission.reviewed_by = reviewer
    submission.review_note = note.strip()[:300]
    submission.reviewed_at = timezone.now()
    submission.save(update_fields=["status", "reviewed_by", "review_note", "reviewed_at"])
    logger.info(
        "kyc decided",
        extra={
            "submission_id": submission.pk,
            "user_id": submission.user_id,
            "status": submission.status,
            "by": reviewer.pk,
        },
    )
    return submission


# --- Payout destinations -------------------------------------------------------------------------


def _destination_of(*, host: User, destination_id: int) -> PayoutDestination:
    """The host's own destination (another host's is as good as missing), unless removed."""
    destination = (
        PayoutDestination.objects.filter(pk=destination_id, host=host)
        .exclude(status=PayoutDestination.Status.REMOVED)
        .first()
    )
    if destination is None:
        raise PayoutDestinationNotFound(details={"destination_id": destination_id})
    return destination


def _only_verified_destination_of(*, host: User) -> PayoutDestination:
    """The host's default destination, or their one verified destination, for clients that name
    none; with none verified, or several and no default, the host must act."""
    default = PayoutDestination.objects.filter(
        host=host, status=PayoutDestination.Status.VERIFIED, is_default=True
    ).first()
    if default is not None:
        return default
    verified = list(PayoutDestination.objects.filter(host=host, status=PayoutDestination.Status.VERIFIED)[:2])
    if not verified:
        raise PayoutDestinationNotVerified(details={"status": "none"})
    if len(verified) > 1:
        raise PayoutDestinationRequired()
    return verified[0]


@transaction.atomic
def payout_destination_add(
    *, host: User, rail: str, account_id: str, account_name: str, bank_code: str = "", branch_code: str = ""
) -> PayoutDestination:
    """Save where payouts may go. It is confirmed by a penny drop: the next payout batch of its rail
    carries a small credit to it whose remark holds a code, and the host types the code back."""
    user_require_verified_phone(user=host, message=_PAYOUT_PHONE_MESSAGE)
    if not KycSubmission.objects.filter(user=host, status=KycSubmission.Status.APPROVED).exists():
        raise KycRequired()
    low, high = settings.PAYOUT_VERIFY_MIN_PAISA, settings.PAYOUT_VERIFY_MAX_PAISA
    try:
        with transaction.atomic():
            destination = PayoutDestination.objects.create(
                host=host,
                rail=rail,
                account_id=account_id,
                account_name=account_name.strip(),
                bank_code=bank_code if rail == PayoutDestination.Rail.BANK else "",
                branch_code=branch_code if rail == PayoutDestination.Rail.BANK else "",
                verify_amount_paisa=low + secrets.randbelow(high - low + 1),
                verify_code=f"{secrets.randbelow(10**6):06d}",
            )
    except IntegrityError:  # payout_destination_live_uniq
        raise PayoutDestinationExists() from None
    logger.info("payout destination added", extra={"host_id": host.pk, "destination_id": destination.pk})
    return destination


def _destination_code_check(*, host: User, destination_id: int, code: str) -> tuple[PayoutDestination, bool]:
    with transaction.atomic():
        destination = _destination_of(host=host, destination_id=destination_id)
        destination = PayoutDestination.objects.select_for_update().get(pk=destination.pk)
        if destination.status != PayoutDestination.Status.AWAITING_CODE:
            raise PayoutDestinationNotAwaitingCode(details={"status": destination.status})
        if hmac.compare_digest(code.encode(), destination.verify_code.encode()):
            destination.status = PayoutDestination.Status.VERIFIED
            destination.verified_at = timezone.now()
            destination.save(update_fields=["status", "verified_at"])
            _default_ensure(host_id=host.pk)
            destination.refresh_from_db(fields=["is_default"])
            return destination, True
        destination.verify_attempts += 1
        if destination.verify_attempts >= settings.PAYOUT_VERIFY_MAX_ATTEMPTS:
            destination.status = PayoutDestination.Status.FAILED
        destination.save(update_fields=["verify_attempts", "status"])
        return destination, False


def payout_destination_confirm(*, host: User, destination_id: int, code: str) -> PayoutDestination:
    """Type back the code from the confirmation credit. Wrong codes are counted (committed, then
    refused); at PAYOUT_VERIFY_MAX_ATTEMPTS the destination fails and must be added again."""
    destination, matched = _destination_code_check(host=host, destination_id=destination_id, code=code)
    if not matched:
        left = max(settings.PAYOUT_VERIFY_MAX_ATTEMPTS - destination.verify_attempts, 0)
        raise PayoutCodeWrong(details={"attempts_left": left})
    logger.info("payout destination verified", extra={"host_id": host.pk, "destination_id": destination.pk})
    return destination


def _default_ensure(*, host_id: int) -> None:
    """Give the host a default destination when they have none: the latest verified one. The caller
    holds a transaction; the host's destination rows are locked first so two callers cannot both pick."""
    mine = PayoutDestination.objects.select_for_update().filter(host_id=host_id).order_by("pk")
    rows = list(mine.values_list("pk", "status", "is_default", "verified_at"))
    if any(is_default for _, _, is_default, _ in rows):
        return
    verified = [row for row in rows if row[1] == PayoutDestination.Status.VERIFIED]
    if verified:
        latest = max(verified, key=lambda row: (row[3] or timezone.now(), row[0]))
        PayoutDestination.objects.filter(pk=latest[0]).update(is_default=True)


@transaction.atomic
def payout_destination_default_set(*, host: User, destination_id: int) -> PayoutDestination:
    """Make one of the host's verified destinations their default (where a cash-out naming none goes).
    Another host's destination is as good as missing; one not yet confirmed is refused. Setting the
    current default again changes nothing."""
    destination = _destination_of(host=host, destination_id=destination_id)
    # Lock order as removal's: the host's destination rows in pk order, so a concurrent removal or
    # confirmation (which may pick a default) waits, and one_default is never hit halfway.
    list(PayoutDestination.objects.select_for_update().filter(host=host).order_by("pk").values_list("pk"))
    destination.refresh_from_db()
    if destination.status != PayoutDestination.Status.VERIFIED:
        if destination.status == PayoutDestination.Status.REMOVED:
            raise PayoutDestinationNotFound(details={"destination_id": destination_id})
        raise PayoutDestinationNotVerified(details={"status": destination.status})
    if not destination.is_default:
        PayoutDestination.objects.filter(host=host, is_default=True).update(is_default=False)
        PayoutDestination.objects.filter(pk=destination.pk).update(is_default=True)
        destination.is_default = True
        logger.info("payout destination default set", extra={"host_id": host.pk, "destination_id": destination.pk})
    return destination


@transaction.atomic
def payout_destination_remove(*, host: User, destination_id: int) -> None:
    """Remove one of the host's destinations (kept, marked removed: the cash-outs and batch lines
    that name it stay provable). Refused while a cash-out to it is waiting or in a batch, or its
    confirmation credit is in a batch not yet settled. A removed default hands over to the latest
    verified destination left."""
    destination = _destination_of(host=host, destination_id=destination_id)
    # Lock order: the host's destination rows (pk order), then the cash-outs that name this one.
    list(PayoutDestination.objects.select_for_update().filter(host=host).order_by("pk").values_list("pk"))
    destination.refresh_from_db()
    if destination.status == PayoutDestination.Status.REMOVED:
        raise PayoutDestinationNotFound(details={"destination_id": destination_id})
    on_the_way = list(
        CashoutRequest.objects.filter(
            destination=destination,
            status__in=[CashoutRequest.Status.REQUESTED, CashoutRequest.Status.BATCHED],
        ).values_list("pk", flat=True)
    )
    credit_pending = PayoutLine.objects.filter(destination=destination, status=PayoutLine.Status.PENDING).exists()
    if on_the_way or credit_pending:
        raise PayoutDestinationInUse(details={"cashout_ids": on_the_way})
    destination.status, destination.removed_at, destination.is_default = (
        PayoutDestination.Status.REMOVED,
        timezone.now(),
        False,
    )
    destination.save(update_fields=["status", "removed_at", "is_default"])
    _default_ensure(host_id=host.pk)
    logger.info("payout destination removed", extra={"host_id": host.pk, "destination_id": destination.pk})


# --- Payout batches ------------------------------------------------------------------------------


def _payable(cashout: CashoutRequest, now: datetime) -> bool:
    try:
        _cashout_require_payable(request=cashout, now=now)
    except CashoutNotPayable:
        return False
    return True


def _verification_sent() -> "Exists":
    return Exists(
        PayoutLine.objects.filter(destination_id=OuterRef("pk"), kind=PayoutLine.Kind.VERIFICATION).exclude(
            status=PayoutLine.Status.FAILED
        )
    )


@transaction.atomic
def payout_batch_create(*, rail: str, created_by: User) -> PayoutBatch | None:
    """Gather what is due on one rail into a new batch: cash-outs past their hold period whose host has
    no active hold, and the confirmation credits of new destinations. None when nothing is due.

    Cash-outs are locked with SKIP LOCKED (two Finance users building batches at once split them, never
    share one), then their hosts' earnings accounts in pk order, the lock cash-out holds are placed
    under, so a hold placed meanwhile is seen.
    """
    finance_staff_require(user=created_by, action="build payout batches")
    now = timezone.now()
    cashouts = list(
        CashoutRequest.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            status=CashoutRequest.Status.REQUESTED,
            destination__rail=rail,
            destination__status=PayoutDestination.Status.VERIFIED,
            payable_at__lte=now,
        )
        .exclude(host_id=created_by.pk)
        .order_by("pk")
    )
    host_ids = sorted({cashout.host_id for cashout in cashouts})
    earnings = [account_for_user(user_id=host_id, kind=Account.Kind.HOST_EARNINGS).pk for host_id in host_ids]
    list(Account.objects.select_for_update().filter(pk__in=earnings).order_by("pk"))
    held = set(
        CashoutHold.objects.filter(host_id__in=host_ids, released_at__isnull=True).values_list("host_id", flat=True)
    )
    cashouts = [cashout for cashout in cashouts if cashout.host_id not in held and _payable(cashout, now)]
    destinations = list(
        PayoutDestination.objects.select_for_update(skip_locked=True)
        .filter(rail=rail, status=PayoutDestination.Status.PENDING_DEPOSIT)
        .exclude(host_id=created_by.pk)
        .exclude(_verification_sent())
        .order_by("pk")
    )
    if not cashouts and not destinations:
        return None
    batch = PayoutBatch.objects.create(rail=rail, created_by=created_by)
    lines = [
        PayoutLine(
            batch=batch,
            kind=PayoutLine.Kind.VERIFICATION,
            destination=destination,
            amount_paisa=destination.verify_amount_paisa,
            remark=f"HaloBuzz code {destination.verify_code}",
        )
        for destination in destinations
    ]
    lines += [
        PayoutLine(
            batch=batch,
            kind=PayoutLine.Kind.CASHOUT,
            destination_id=cast(int, cashout.destination_id),  # the query above picks only cash-outs with one
            cashout=cashout,
            amount_paisa=cast(int, cashout.net_paisa),
            remark=f"HaloBuzz payout {cashout.pk}",
        )
        for cashout in cashouts
    ]
    PayoutLine.objects.bulk_create(lines)
    CashoutRequest.objects.filter(pk__in=[c.pk for c in cashouts]).update(status=CashoutRequest.Status.BATCHED)
    logger.info(
        "payout batch created",
        extra={"batch_id": batch.pk, "rail": rail, "cashouts": len(cashouts), "verifications": len(destinations)},
    )
    return batch


def payout_batch_exported(*, batch_id: int, by: User) -> None:
    """Record that Finance downloaded the batch file (to send it to the provider)."""
    finance_staff_require(user=by, action="export payout batches")
    PayoutBatch.objects.filter(pk=batch_id).update(exported_at=timezone.now())


def _line_lock(*, line_id: int, by: User) -> PayoutLine:
    finance_staff_require(user=by, action="settle payouts")
    line = PayoutLine.objects.select_for_update().select_related("destination").get(pk=line_id)
    require_not_own(actor=by, owner_id=line.destination.host_id)
    return line


def _batch_close_if_settled(*, batch_id: int) -> None:
    if not PayoutLine.objects.filter(batch_id=batch_id, status=PayoutLine.Status.PENDING).exists():
        PayoutBatch.objects.filter(pk=batch_id, status=PayoutBatch.Status.OPEN).update(
            status=PayoutBatch.Status.CLOSED, closed_at=timezone.now()
        )


@transaction.atomic
def payout_line_mark_paid(*, line_id: int, provider_ref: str, by: User) -> PayoutLine:
    """The provider paid the line (its reference recorded). Marking it paid again with the same
    reference changes nothing; a cash-out's held coins leave as payout and withheld tax; a
    confirmation credit lets the host type in the code."""
    provider_ref = provider_ref.strip()[:100]
    if not provider_ref:
        raise serializers.ValidationError({"provider_ref": ["The provider's reference is required."]})
    line = _line_lock(line_id=line_id, by=by)
    if line.status == PayoutLine.Status.PAID and line.provider_ref == provider_ref:
        return line
    if line.status != PayoutLine.Status.PENDING:
        raise PayoutLineSettled(details={"status": line.status, "provider_ref": line.provider_ref})
    now = timezone.now()
    line.status, line.provider_ref, line.settled_by, line.settled_at = PayoutLine.Status.PAID, provider_ref, by, now
    line.save(update_fields=["status", "provider_ref", "settled_by", "settled_at"])
    if line.cashout_id is not None:
        request = CashoutRequest.objects.select_for_update().get(pk=line.cashout_id)
        _cashout_paid_post(request=request, by=by, memo=f"batch {line.batch_id} ref {provider_ref}")
        request.status, request.provider_ref = CashoutRequest.Status.APPROVED, provider_ref
        request.reviewed_by, request.reviewed_at = by, now
        request.save(update_fields=["status", "provider_ref", "reviewed_by", "reviewed_at"])
        cashout_reviewed.send(
            sender=CashoutRequest, cashout_id=request.pk, host_id=request.host_id, approved=True, coins=request.coins
        )
    else:
        PayoutDestination.objects.filter(
            pk=line.destination_id, status=PayoutDestination.Status.PENDING_DEPOSIT
        ).update(status=PayoutDestination.Status.AWAITING_CODE)
    _batch_close_if_settled(batch_id=line.batch_id)
    logger.info("payout line paid", extra={"line_id": line.pk, "batch_id": line.batch_id, "by": by.pk})
    return line


@transaction.atomic
def payout_line_mark_failed(*, line_id: int, reason: str, by: User) -> PayoutLine:
    """The provider refused the line. A cash-out's held coins, tax included, go back to the host's
    earnings; a destination whose confirmation credit failed cannot be used (the host adds it again)."""
    reason = reason.strip()[:300]
    if not reason:
        raise serializers.ValidationError({"reason": ["Say why the line failed."]})
    line = _line_lock(line_id=line_id, by=by)
    if line.status == PayoutLine.Status.FAILED:
        return line
    if line.status != PayoutLine.Status.PENDING:
        raise PayoutLineSettled(details={"status": line.status, "provider_ref": line.provider_ref})
    now = timezone.now()
    line.status, line.failure_reason, line.settled_by, line.settled_at = PayoutLine.Status.FAILED, reason, by, now
    line.save(update_fields=["status", "failure_reason", "settled_by", "settled_at"])
    if line.cashout_id is not None:
        request = CashoutRequest.objects.select_for_update().get(pk=line.cashout_id)
        _cashout_returned_post(request=request, kind="cashout_failed", by=by, memo=reason)
        request.status, request.review_note = CashoutRequest.Status.FAILED, reason
        request.reviewed_by, request.reviewed_at = by, now
        request.save(update_fields=["status", "review_note", "reviewed_by", "reviewed_at"])
        cashout_reviewed.send(
            sender=CashoutRequest, cashout_id=request.pk, host_id=request.host_id, approved=False, coins=request.coins
        )
    else:
        PayoutDestination.objects.filter(pk=line.destination_id).update(status=PayoutDestination.Status.FAILED)
    _batch_close_if_settled(batch_id=line.batch_id)
    logger.info("payout line failed", extra={"line_id": line.pk, "batch_id": line.batch_id, "by": by.pk})
    return line
