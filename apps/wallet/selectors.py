"""Reads of the coin ledger."""

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.expressions import BaseExpression
from django.db.models.functions import TruncDate

from apps.accounts.models import User
from apps.wallet.models import (
    Account,
    CashoutHold,
    CashoutRequest,
    JournalEntry,
    KycSubmission,
    PayoutBatch,
    PayoutDestination,
    PayoutLine,
    Posting,
)
from apps.wallet.spending import day_resets_at as day_resets_at
from apps.wallet.spending import month_resets_at as month_resets_at
from apps.wallet.spending import spending_controls_get as spending_controls_get


def account_available(*, account: Account) -> int:
    """Stored balance plus credits not yet rolled up: what the owner really has."""
    pending = Posting.objects.filter(account=account, applied=False).aggregate(total=Sum("amount"))["total"]
    return account.balance + (pending or 0)


def user_balances(*, user: User) -> dict[str, int]:
    """{"coins": spendable coins, "earnings": host earnings} (accounts not yet created count as 0)."""
    balances: dict[str, int] = {Account.Kind.USER_COINS: 0, Account.Kind.HOST_EARNINGS: 0}
    for account in Account.objects.filter(owner=user):
        balances[account.kind] = account_available(account=account)
    return {"coins": balances[Account.Kind.USER_COINS], "earnings": balances[Account.Kind.HOST_EARNINGS]}


def coins_balance(*, user_id: int) -> int:
    """The user's spendable coins as stored now (0 without an account; these are never deferred)."""
    return (
        Account.objects.filter(owner_id=user_id, kind=Account.Kind.USER_COINS).values_list("balance", flat=True).first()
        or 0
    )


def posting_history(*, user: User, kind: str | None = None) -> QuerySet[Posting]:
    """The user's postings across their accounts, newest first, with their entries."""
    qs = Posting.objects.filter(account__owner=user).select_related("entry", "account").order_by("-id")
    if kind:
        qs = qs.filter(entry__kind=kind)
    return qs


def cashout_list(*, host: User) -> QuerySet[CashoutRequest]:
    return CashoutRequest.objects.filter(host=host).select_related("destination").order_by("-created_at")


def kyc_latest(*, user: User) -> KycSubmission | None:
    """The user's latest identity check (an approved one stays the latest: no new one is accepted)."""
    return KycSubmission.objects.filter(user=user).order_by("-pk").first()


def payout_destination_list(*, host: User) -> QuerySet[PayoutDestination]:
    """The host's destinations, removed ones left out, newest first."""
    return PayoutDestination.objects.filter(host=host).exclude(status=PayoutDestination.Status.REMOVED).order_by("-pk")


def _npr(paisa: int) -> str:
    return f"{paisa // 100}.{paisa % 100:02d}"


# Neither eSewa nor Khalti documents a bulk-payout file format we could follow, so every rail gets the
# same plain CSV (RFC 4180, UTF-8), one transfer a row; the bank file adds the bank and branch codes.
PAYOUT_FILE_COLUMNS = {
    PayoutBatch.Rail.BANK: [
        "line_id",
        "bank_code",
        "branch_code",
        "account_number",
        "account_name",
        "amount_npr",
        "remark",
    ],
    PayoutBatch.Rail.ESEWA: ["line_id", "esewa_id", "account_name", "amount_npr", "remark"],
    PayoutBatch.Rail.KHALTI: ["line_id", "khalti_id", "account_name", "amount_npr", "remark"],
}


def payout_batch_file(*, batch: PayoutBatch) -> str:
    """The batch's transfers still waiting for the provider, as the CSV Finance uploads to it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PAYOUT_FILE_COLUMNS[PayoutBatch.Rail(batch.rail)])
    lines = (
        PayoutLine.objects.filter(batch=batch, status=PayoutLine.Status.PENDING)
        .select_related("destination")
        .order_by("pk")
    )
    for line in lines:
        d = line.destination
        bank = [d.bank_code, d.branch_code] if batch.rail == PayoutBatch.Rail.BANK else []
        writer.writerow([line.pk, *bank, d.account_id, d.account_name, _npr(line.amount_paisa), line.remark])
    return out.getvalue()


def ledger_audit() -> list[str]:
    """Every way the ledger disagrees with itself; empty when it is sound.

    On PostgreSQL (outside a surrounding transaction) every check reads one snapshot, so money
    moving while the audit runs cannot look like a discrepancy.
    """
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return _ledger_audit()
    return _ledger_audit()


def _ledger_audit() -> list[str]:
    problems = []
    unbalanced = (
        Posting.objects.values("entry_id")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .values_list("entry_id", "total")
    )
    problems += [f"entry #{entry_id} does not balance: postings sum to {total}" for entry_id, total in unbalanced]
    lonely = JournalEntry.objects.annotate(n=Count("postings")).filter(n__lt=2).values_list("pk", flat=True)
    problems += [f"entry #{pk} has fewer than two postings" for pk in lonely]
    applied = dict(
        Posting.objects.filter(applied=True)
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    pending = dict(
        Posting.objects.filter(applied=False)
        .values("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    for account in Account.objects.all().only("pk", "kind", "owner_id", "balance"):
        expected = applied.get(account.pk, 0)
        if account.balance != expected:
            problems.append(
                f"account #{account.pk} ({account.kind}, owner {account.owner_id}): stored balance {account.balance}"
                f" != sum of applied postings {expected}"
            )
        if account.owner_id and account.balance + pending.get(account.pk, 0) < 0:
            problems.append(f"account #{account.pk} of user {account.owner_id} is negative")
    total = Posting.objects.aggregate(total=Sum("amount"))["total"] or 0
    if total != 0:
        problems.append(f"all postings sum to {total}, not 0")
    return problems


def journal_entry_get(*, kind: str, ref: str) -> JournalEntry:
    """The entry recorded under (kind, ref): what a retry that met DuplicateEntry finds instead."""
    return JournalEntry.objects.get(kind=kind, ref=ref)


def cashout_hold_reasons(*, host_ids: list[int]) -> dict[int, list[str]]:
    """Per host (only those with any): the reasons of the active holds on their cash-outs, oldest first."""
    reasons: dict[int, list[str]] = defaultdict(list)
    holds = CashoutHold.objects.filter(host_id__in=host_ids, released_at__isnull=True).order_by("pk")
    for host_id, reason in holds.values_list("host_id", "reason"):
        reasons[host_id].append(reason)
    return dict(reasons)


def cashout_list_since(*, since: datetime, until: datetime) -> QuerySet[CashoutRequest]:
    """Cash-outs requested in [since, until) that were not rejected, oldest first."""
    return (
        CashoutRequest.objects.filter(created_at__gte=since, created_at__lt=until)
        .exclude(status__in=[CashoutRequest.Status.REJECTED, CashoutRequest.Status.FAILED])
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class Transfer:
    """One entry that debited a user's spendable coins and credited another user's earnings."""

    entry_id: int
    kind: str
    at: datetime
    payer_id: int
    payee_id: int
    coins: int  # the payer's debit
    earned: int  # the payee's credit


def user_transfers(*, since: datetime, until: datetime, min_coins: int = 1) -> list[Transfer]:
    """Transfers from user to user (a gift: coins to a host's earnings) recorded in [since, until),
    oldest first; an entry crediting several users is one transfer per payee.

    Two queries however many entries: the payers' debits, then the payees' credits of those entries.
    """
    entries = JournalEntry.objects.filter(created_at__gte=since, created_at__lt=until).values("pk")
    debits = {
        entry_id: (payer_id, -amount, kind, at)
        for entry_id, payer_id, amount, kind, at in Posting.objects.filter(
            entry_id__in=entries, account__kind=Account.Kind.USER_COINS, amount__lte=-min_coins
        ).values_list("entry_id", "account__owner_id", "amount", "entry__kind", "entry__created_at")
    }
    credits = Posting.objects.filter(
        entry_id__in=list(debits), account__kind=Account.Kind.HOST_EARNINGS, amount__gt=0
    ).values_list("entry_id", "account__owner_id", "amount")
    transfers = [
        Transfer(
            entry_id=entry_id,
            kind=debits[entry_id][2],
            at=debits[entry_id][3],
            payer_id=debits[entry_id][0],
            payee_id=payee_id,
            coins=debits[entry_id][1],
            earned=earned,
        )
        for entry_id, payee_id, earned in credits
    ]
    return sorted(transfers, key=lambda transfer: (transfer.entry_id, transfer.payee_id))


def earnings_reached_by_spends(*, payer_id: int, after_entry_id: int) -> dict[int, int]:
    """Per host: the earnings credited by entries after `after_entry_id` that debited the payer's coins."""
    spends = Posting.objects.filter(
        account__owner_id=payer_id, account__kind=Account.Kind.USER_COINS, amount__lt=0, entry_id__gt=after_entry_id
    ).values("entry_id")
    return dict(
        Posting.objects.filter(entry_id__in=spends, account__kind=Account.Kind.HOST_EARNINGS, amount__gt=0)
        .values("account__owner_id")
        .annotate(total=Sum("amount"))
        .values_list("account__owner_id", "total")
    )


def cashout_unsettled_exists(*, host_id: int) -> bool:
    """Whether a cash-out of the host's is still to be settled: waiting for Finance or in a payout batch."""
    unsettled = (CashoutRequest.Status.REQUESTED, CashoutRequest.Status.BATCHED)
    return CashoutRequest.objects.filter(host_id=host_id, status__in=unsettled).exists()


def cashout_requested_ids(*, host_ids: list[int]) -> list[int]:
    """The hosts' cash-outs waiting for Finance, oldest first."""
    return list(
        CashoutRequest.objects.filter(host_id__in=host_ids, status=CashoutRequest.Status.REQUESTED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def earnings_account_id(*, host_id: int) -> int | None:
    """The id of the host's earnings account, or None while they have never earned."""
    return (
        Account.objects.filter(owner_id=host_id, kind=Account.Kind.HOST_EARNINGS).values_list("pk", flat=True).first()
    )


def earnings_balance_at(*, account_id: int, at: datetime) -> int:
    """The earnings account's balance just before `at`: every posting of an entry recorded earlier,
    applied or not (the balance the owner had then, as `account_available` counts it now)."""
    total = Posting.objects.filter(account_id=account_id, entry__created_at__lt=at).aggregate(total=Sum("amount"))
    return total["total"] or 0


def earnings_movement(
    *,
    account_id: int,
    since: datetime,
    until: datetime,
    tz: tzinfo,
    groups: Mapping[str, BaseExpression],
    sums: Mapping[str, BaseExpression],
) -> list[dict[str, Any]]:
    """The earnings account's postings of entries recorded in [since, until), summed in the database
    per entry kind, local day (`day`, in `tz`) and the caller's `groups`, in one query. `groups` and
    `sums` are the caller's expressions over a posting (e.g. subqueries on `OuterRef("entry_id")`
    saying what the entry was for); each row has `kind`, `day`, the groups, the sums (NULL where no
    posting of the row had one), `coins` (the postings' signed sum) and `entries`.

    The rows add up to the account's movement over the period exactly: they are its postings.
    """
    return list(
        Posting.objects.filter(account_id=account_id, entry__created_at__gte=since, entry__created_at__lt=until)
        .annotate(kind=F("entry__kind"), day=TruncDate("entry__created_at", tzinfo=tz), **groups)
        .values("kind", "day", *groups)
        .annotate(coins=Sum("amount"), entries=Count("id"), **{name: Sum(expr) for name, expr in sums.items()})
        .order_by("day", "kind", *groups)
    )


def cashouts_between(*, host_id: int, since: datetime, until: datetime) -> QuerySet[CashoutRequest]:
    """The host's cash-outs requested in [since, until), oldest first (whatever their status)."""
    return CashoutRequest.objects.filter(host_id=host_id, created_at__gte=since, created_at__lt=until).order_by(
        "created_at", "pk"
    )
