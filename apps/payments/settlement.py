"""Verifying a payment with its gateway and settling it: credit, close, flag for review or wait;
taking refunded coins back; reconciling unfinished payments.

The one rule: coins are credited only by `payment_verify`, after the gateway's own status API said
COMPLETE for exactly the stored amount, through one ledger entry (kind "topup", ref = payment id).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.accounts.services import require_not_own, user_ban
from apps.core import metrics
from apps.core.exceptions import DomainError, NotFound
from apps.payments import gateways
from apps.payments.exceptions import RefundNotSettleable
from apps.payments.gateways import GatewayAnswer, State
from apps.payments.models import Payment
from apps.payments.signals import payment_settled
from apps.wallet.exceptions import DuplicateEntry, InsufficientCoins
from apps.wallet.selectors import journal_entry_get
from apps.wallet.services import (
    account_for_user,
    finance_staff_require,
    ledger_post,
    platform_account,
    refund_shortfall_settle,
)
from apps.wallet.types import AccountKind

logger = logging.getLogger(__name__)

S = Payment.Status
# Outcomes a payer hears of (apps.notifications); review and pending are ours to resolve.
PAYER_TOLD_STATUSES = frozenset({S.COMPLETED, S.FAILED, S.CANCELED, S.EXPIRED})
TOPUP_KIND = "topup"
REFUND_KIND = "topup_refund"
# Verified automatically (callbacks, the beat task). CANCELED is here because eSewa's failure
# redirect is unsigned: anyone could send it, so the status API still has the last word.
AUTO_VERIFY = (S.INITIATED, S.PENDING, S.CANCELED)
# Also re-checked when staff ask for it (admin re-verify).
STAFF_VERIFY = (*AUTO_VERIFY, S.NEEDS_REVIEW, S.FAILED, S.EXPIRED)


# --- Verification and settlement --------------------------------------------------------------


@dataclass(frozen=True)
class VerifyOutcome:
    payment_id: int
    before: str
    after: str
    retry: bool = False
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _worth_asking(payment: Payment, *, include_closed: bool) -> bool:
    if payment.status == S.REFUNDED:
        return False
    if payment.credit_entry_id:
        return True  # credited: only a refund can still change it
    return payment.status in (STAFF_VERIFY if include_closed else AUTO_VERIFY)


def payment_verify(*, payment_id: int, final_attempt: bool = True, include_closed: bool = False) -> VerifyOutcome:
    """Ask the gateway about the payment, then settle it: credit, close, flag or wait.

    Safe to run any number of times, also concurrently: the gateway is asked without a transaction,
    then the payment row is locked and re-read, and the ledger's unique (kind, ref) stops a second
    credit. With final_attempt=False a transient answer (timeout, outage, PENDING, AMBIGUOUS) asks the
    caller to retry; on the final attempt it is resolved (kept pending, or sent to review).
    """
    payment = Payment.objects.get(pk=payment_id)
    if not _worth_asking(payment, include_closed=include_closed):
        return VerifyOutcome(payment_id, payment.status, payment.status, note="nothing to verify")
    answer = gateways.gateway_status(payment=payment)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        before = payment.status
        if not _worth_asking(payment, include_closed=include_closed):  # another task settled it meanwhile
            return VerifyOutcome(payment_id, before, before, note="already settled")
        payment.verify_count += 1
        payment.last_checked_at = timezone.now()
        payment.last_gateway_status = (answer.raw_status or str(answer.state))[:40]
        retry, note = _settle_locked(payment, answer, final_attempt=final_attempt, include_closed=include_closed)
        payment.save()
        if payment.status != before:
            gateway, outcome = payment.gateway, payment.status
            transaction.on_commit(lambda: metrics.payment_outcome(gateway=gateway, outcome=outcome))
            if payment.status in PAYER_TOLD_STATUSES:
                payment_settled.send(
                    sender=Payment,
                    payment_id=payment.pk,
                    user_id=payment.user_id,
                    status=payment.status,
                    coins=payment.total_coins,
                )
    level = logging.WARNING if payment.status == S.NEEDS_REVIEW and before != S.NEEDS_REVIEW else logging.INFO
    logger.log(
        level,
        "payment verified",
        extra={"payment_id": payment_id, "before": before, "after": payment.status, "gateway_state": answer.state},
    )
    return VerifyOutcome(payment_id, before, payment.status, retry=retry, note=note)


def _stale(payment: Payment) -> bool:
    return payment.created_at < timezone.now() - timedelta(minutes=settings.PAYMENT_PENDING_EXPIRY_MINUTES)


def _flag(payment: Payment, reason: str) -> str:
    """Send to Finance's review queue. Caller holds the payment's row lock."""
    payment.status = S.NEEDS_REVIEW
    payment.review_reason = reason[:300]
    logger.warning("payment needs review", extra={"payment_id": payment.pk, "reason": reason})
    return reason


def _settle_locked(
    payment: Payment, answer: GatewayAnswer, *, final_attempt: bool, include_closed: bool
) -> tuple[bool, str]:
    """Apply the gateway's answer. Caller holds the payment's row lock. Returns (retry, note)."""
    if payment.credit_entry_id:
        return False, _settle_credited(payment, answer)
    if answer.mismatch:
        return False, _flag(payment, f"gateway answer mismatch: {answer.mismatch}")

    state = answer.state
    if state == State.COMPLETE:
        return False, _credit(payment, answer)
    if state in (State.PENDING, State.AMBIGUOUS, State.UNAVAILABLE):
        if state == State.PENDING and payment.status == S.INITIATED:
            payment.status = S.PENDING
        if not final_attempt:
            return True, f"{state}: will retry"
        if state == State.AMBIGUOUS:
            return False, _flag(
                payment, f"ambiguous gateway answer after retries ({answer.raw_status or 'unreadable'})"
            )
        if _stale(payment):
            return False, _flag(
                payment, f"still {state} after the {settings.PAYMENT_PENDING_EXPIRY_MINUTES} min window"
            )
        return False, f"{state}: left for reconciliation"
    if state == State.NOT_FOUND:
        if not _stale(payment) and payment.status != S.NEEDS_REVIEW:
            return False, "not found yet"
        payment.status = S.EXPIRED if payment.status in (S.INITIATED, S.CANCELED) else S.FAILED
        return False, "not found at the gateway"
    if state == State.CANCELED:
        payment.status = S.FAILED
        return False, "canceled by the gateway"
    if state == State.USER_CANCELED:
        payment.status = S.CANCELED
        return False, "canceled by the payer"
    if state == State.EXPIRED:
        payment.status = S.EXPIRED
        return False, "expired at the gateway"
    # REFUNDED / PARTIALLY_REFUNDED for coins we never credited.
    return False, _flag(payment, f"gateway reports {answer.raw_status} for a payment we never credited")


def _credit(payment: Payment, answer: GatewayAnswer) -> str:
    """Credit coins + bonus for a COMPLETE answer, if it is exactly what we sold. Caller holds the lock."""
    if answer.amount_paisa != payment.amount_paisa:
        return _flag(payment, f"gateway reports amount {answer.amount_paisa} paisa, we expect {payment.amount_paisa}")
    if not answer.txn_id:
        return _flag(payment, "gateway reports COMPLETE without a transaction id")
    payment.gateway_txn_id = answer.txn_id
    try:
        with transaction.atomic():
            Payment.objects.filter(pk=payment.pk).update(gateway_txn_id=answer.txn_id)
    except IntegrityError:
        other = Payment.objects.filter(gateway_txn_id=answer.txn_id).values_list("pk", flat=True).first()
        payment.gateway_txn_id = None
        return _flag(payment, f"gateway transaction id {answer.txn_id} was already used by payment #{other}")
    total = payment.total_coins
    try:
        entry = ledger_post(
            kind=TOPUP_KIND,
            ref=str(payment.pk),
            postings=[
                (platform_account(kind=AccountKind.ISSUANCE), -total),
                (account_for_user(user_id=payment.user_id), total),
            ],
            memo=f"{payment.get_gateway_display()} top-up {payment.package_name} ({answer.txn_id})",
        )
    except DuplicateEntry:  # credited before (the lock makes this rare): keep the one entry
        entry = journal_entry_get(kind=TOPUP_KIND, ref=str(payment.pk))
    payment.credit_entry = entry
    payment.status = S.COMPLETED
    payment.review_reason = ""
    payment.completed_at = timezone.now()
    return f"credited {total} coins"


def _settle_credited(payment: Payment, answer: GatewayAnswer) -> str:
    """A credited payment: only a refund or reversal reported by the gateway changes it."""
    if answer.mismatch:
        return f"ignored mismatching answer: {answer.mismatch}"
    if answer.state in (State.REFUNDED, State.CANCELED):
        return _refund(payment, reason=answer.raw_status)
    if answer.state == State.PARTIALLY_REFUNDED:
        if payment.status != S.NEEDS_REVIEW:
            return _flag(payment, "gateway reports a partial refund of a credited payment")
        return "partial refund (already in review)"
    return "credited; no refund reported"


def _refund(payment: Payment, *, reason: str) -> str:
    """Take the coins back with one reversing entry; to review if the user already spent them."""
    total = payment.total_coins
    try:
        entry = ledger_post(
            kind=REFUND_KIND,
            ref=str(payment.pk),
            postings=[
                (account_for_user(user_id=payment.user_id), -total),
                (platform_account(kind=AccountKind.ISSUANCE), total),
            ],
            memo=f"{payment.get_gateway_display()} reports {reason}",
        )
    except InsufficientCoins as exc:
        # Finance settles it (payment_refund_settle): write off, claw back or ban.
        payment.refund_unrecovered_at = payment.refund_unrecovered_at or timezone.now()
        if payment.status == S.NEEDS_REVIEW:
            return "refund reported; coins still spent (already in review)"
        return _flag(
            payment,
            f"gateway reports {reason} but the user has spent the coins "
            f"(balance {exc.details.get('balance')}, refund {total})",
        )
    except DuplicateEntry:
        entry = journal_entry_get(kind=REFUND_KIND, ref=str(payment.pk))
    payment.refund_entry = entry
    payment.status = S.REFUNDED
    payment.review_reason = f"gateway reported {reason}; {total} coins taken back"
    return f"refunded {total} coins"


# --- Finance settles a refund whose coins were spent --------------------------------------------


class SettleMethod(models.TextChoices):
    WRITE_OFF = "write_off", "Write off what the payer no longer has"
    CLAW_BACK = "claw_back", "Claw back from the earnings of the hosts the coins reached"
    BAN = "ban", "Ban the payer and write off what they no longer have"


@dataclass(frozen=True)
class RefundSettlement:
    payment_id: int
    method: str
    entry_id: int
    from_payer: int
    from_hosts: dict[int, int]
    written_off: int


@transaction.atomic
def payment_refund_settle(*, payment_id: int, method: str, reason: str, by: User) -> RefundSettlement:
    """Close a top-up the gateway refunded after its coins were spent, as one balanced ledger entry
    (kind "topup_refund", ref = payment id: the entry an ordinary refund would have written, so a
    payment is never taken back twice).

    Every method first takes what the payer still has; `claw_back` then takes from the earnings of
    the hosts the payer's coins reached since the top-up; what remains is written off. `ban` also
    bans the payer. Finance staff only, never for their own payment, with a reason.
    """
    finance_staff_require(user=by, action="settle refunded top-ups")
    if method not in SettleMethod.values:
        raise RefundNotSettleable(details={"payment_id": payment_id, "method": method})
    if not reason.strip():
        raise RefundNotSettleable(gettext_lazy("Give a reason for the settlement."), details={"payment_id": payment_id})
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        raise NotFound(gettext_lazy("No such payment."))
    require_not_own(actor=by, owner_id=payment.user_id)
    if payment.refund_unrecovered_at is None or payment.credit_entry_id is None or payment.refund_entry_id is not None:
        raise RefundNotSettleable(details={"payment_id": payment.pk, "status": payment.status})
    label = SettleMethod(method).label
    settled = refund_shortfall_settle(
        payer_id=payment.user_id,
        coins=payment.total_coins,
        kind=REFUND_KIND,
        ref=str(payment.pk),
        claw_back_after_entry_id=payment.credit_entry_id if method == SettleMethod.CLAW_BACK else None,
        memo=f"{label}: {reason}",
        created_by=by,
    )
    if method == SettleMethod.BAN:
        payer = User.objects.get(pk=payment.user_id)
        user_ban(user=payer, reason=f"Refunded top-up #{payment.pk} after spending its coins: {reason}", by=by)
    payment.refund_entry = settled.entry
    payment.status = S.REFUNDED
    clawed = sum(settled.from_hosts.values())
    payment.review_reason = (
        f"settled ({method}) by {by.username}: {settled.from_payer} from the payer, {clawed} from hosts, "
        f"{settled.written_off} written off; {reason}"
    )[:300]
    payment.save(update_fields=["refund_entry", "status", "review_reason", "updated_at"])
    logger.info("refund settled", extra={"payment_id": payment.pk, "method": method, "by": by.pk})
    return RefundSettlement(
        payment_id=payment.pk,
        method=method,
        entry_id=settled.entry.pk,
        from_payer=settled.from_payer,
        from_hosts=settled.from_hosts,
        written_off=settled.written_off,
    )


# --- Reconciliation ---------------------------------------------------------------------------


def payments_reconcile(*, limit: int = 500) -> list[VerifyOutcome]:
    """Re-check unfinished payments (expiring stale ones) and recent completed ones (refunds).

    Returns the outcomes that changed a payment's status.
    """
    now = timezone.now()
    window = now - timedelta(minutes=settings.PAYMENT_PENDING_EXPIRY_MINUTES)
    unfinished = Payment.objects.filter(status__in=(S.INITIATED, S.PENDING)) | Payment.objects.filter(
        status=S.CANCELED, created_at__gte=window
    )
    recent = Payment.objects.filter(
        status=S.COMPLETED, completed_at__gte=now - timedelta(days=settings.PAYMENT_REFUND_CHECK_DAYS)
    )
    ids = list(unfinished.order_by("last_checked_at", "pk").values_list("pk", flat=True)[:limit])
    ids += list(recent.order_by("last_checked_at", "pk").values_list("pk", flat=True)[:limit])
    changes = []
    for payment_id in ids:
        try:
            outcome = payment_verify(payment_id=payment_id, final_attempt=True)
        except DomainError as exc:
            logger.error("reconcile could not verify", extra={"payment_id": payment_id, "code": exc.code})
            continue
        if outcome.changed:
            changes.append(outcome)
    return changes


def payment_reverify(*, payment_id: int) -> VerifyOutcome:
    """Staff asked the gateway again (admin action): also re-checks failed, expired and flagged payments."""
    return payment_verify(payment_id=payment_id, final_attempt=True, include_closed=True)
