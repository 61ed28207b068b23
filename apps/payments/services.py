"""Every write of the payments app: starting a payment, taking callbacks, verifying and settling.

The one rule: coins are credited only by `payment_verify`, after the gateway's own status API said
COMPLETE for exactly the stored amount, through one ledger entry (kind "topup", ref = payment id).
Callbacks are hints: they are recorded and queue a verification, nothing more.
"""

import base64
import binascii
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.core import metrics
from apps.core.exceptions import DomainError, IdempotencyKeyReused, NotFound
from apps.payments import gateways
from apps.payments.exceptions import PaymentAttemptFailed, PaymentInProgress
from apps.payments.gateways import GatewayAnswer, State
from apps.payments.links import esewa_callback_urls, khalti_return_url
from apps.payments.models import CoinPackage, Gateway, GatewayExchange, Payment
from apps.payments.signing import esewa_signature_valid, paisa_from_rupees
from apps.wallet.exceptions import DuplicateEntry, InsufficientCoins
from apps.wallet.selectors import journal_entry_get
from apps.wallet.services import account_for_user, ledger_post, platform_account
from apps.wallet.types import AccountKind

logger = logging.getLogger(__name__)

S = Payment.Status
TOPUP_KIND = "topup"
REFUND_KIND = "topup_refund"
# Verified automatically (callbacks, the beat task). CANCELED is here because eSewa's failure
# redirect is unsigned: anyone could send it, so the status API still has the last word.
AUTO_VERIFY = (S.INITIATED, S.PENDING, S.CANCELED)
# Also re-checked when staff ask for it (admin re-verify).
STAFF_VERIFY = (*AUTO_VERIFY, S.NEEDS_REVIEW, S.FAILED, S.EXPIRED)


# --- Starting a payment -----------------------------------------------------------------------


def _replay(*, payment: Payment, fingerprint: str) -> tuple[Payment, bool]:
    if payment.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(details={"key": payment.idempotency_key})
    if payment.gateway == Gateway.KHALTI and not payment.gateway_ref:
        if payment.status == S.FAILED:
            raise PaymentAttemptFailed(details={"payment_id": payment.pk})
        raise PaymentInProgress(details={"payment_id": payment.pk})
    return payment, True


def payment_create(
    *, user: User, package: CoinPackage, gateway: str, idempotency_key: str, fingerprint: str
) -> tuple[Payment, bool]:
    """Record a payment attempt for the package and, for Khalti, initiate it at the gateway.

    Returns (payment, replayed). The same Idempotency-Key with the same request returns the first
    attempt; with another request it is refused. The Khalti call is made with no transaction open.
    """
    existing = Payment.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(payment=existing, fingerprint=fingerprint)
    gateways.gateway_configured_check(gateway=gateway)
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                user=user,
                package=package,
                package_name=package.name,
                coins=package.coins,
                bonus_coins=package.bonus_coins,
                gateway=gateway,
                amount_paisa=package.price_paisa,
                merchant_ref=str(uuid.uuid4()),
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
    except IntegrityError:  # a concurrent twin with the same key won the insert
        return _replay(payment=Payment.objects.get(user=user, idempotency_key=idempotency_key), fingerprint=fingerprint)

    if gateway == Gateway.ESEWA:
        success_url, failure_url = esewa_callback_urls(payment=payment)
        form_url, fields = gateways.esewa_form(payment=payment, success_url=success_url, failure_url=failure_url)
        GatewayExchange.objects.create(
            payment=payment,
            gateway=gateway,
            kind=GatewayExchange.Kind.FORM,
            method="POST",
            url=form_url,
            request_data=fields,
            outcome="signed form handed to the payer",
        )
        return payment, False

    try:
        data = gateways.khalti_initiate(
            payment=payment,
            return_url=khalti_return_url(),
            website_url=settings.SITE_URL,
            customer_name=user.display_name or user.username,
        )
    except DomainError as exc:
        Payment.objects.filter(pk=payment.pk).update(
            status=S.FAILED, review_reason=f"initiate failed: {exc.code}", updated_at=timezone.now()
        )
        raise
    payment.gateway_ref = str(data["pidx"])[:64]
    payment.checkout_url = str(data["payment_url"])[:500]
    payment.save(update_fields=["gateway_ref", "checkout_url", "updated_at"])
    return payment, False


# --- Callbacks (hints only) -------------------------------------------------------------------


def _queue_verify(payment: Payment) -> None:
    from apps.payments.tasks import payment_verify_task

    payment_id = payment.pk
    transaction.on_commit(lambda: payment_verify_task.delay(payment_id))


def _callback_record(*, payment: Payment | None, gateway: str, url: str, data: dict, outcome: str) -> None:
    GatewayExchange.objects.create(
        payment=payment,
        gateway=gateway,
        kind=GatewayExchange.Kind.CALLBACK,
        method="GET",
        url=url[:1000],
        request_data=data,
        outcome=outcome[:300],
    )


def esewa_callback_success(*, data: str, url: str) -> Payment | None:
    """eSewa's success redirect: decode and verify the signed `data`, then queue a verification.

    A bad signature, an unknown transaction or an undecodable payload is recorded and queues
    nothing. Even a perfectly signed callback credits nothing by itself.
    """
    try:
        # Some clients turn "+" into a space in query strings: base64 has no spaces.
        fields = json.loads(base64.b64decode(data.replace(" ", "+"), validate=True))
    except (binascii.Error, ValueError):
        fields = None
    if not isinstance(fields, dict):
        _callback_record(
            payment=None, gateway=Gateway.ESEWA, url=url, data={"data": data[:2000]}, outcome="undecodable"
        )
        logger.warning("esewa callback undecodable")
        return None
    ref = fields.get("transaction_uuid")
    payment = Payment.objects.filter(merchant_ref=ref, gateway=Gateway.ESEWA).first() if isinstance(ref, str) else None
    if not esewa_signature_valid(fields=fields, secret=settings.ESEWA_SECRET_KEY):
        _callback_record(
            payment=payment, gateway=Gateway.ESEWA, url=url, data=fields, outcome="rejected: bad signature"
        )
        logger.warning("esewa callback with a bad signature", extra={"payment_id": payment and payment.pk})
        return None
    if payment is None:
        _callback_record(
            payment=None, gateway=Gateway.ESEWA, url=url, data=fields, outcome="rejected: unknown transaction"
        )
        logger.warning("esewa callback for an unknown transaction")
        return None
    notes = []
    if paisa_from_rupees(fields.get("total_amount")) != payment.amount_paisa:
        notes.append(f"amount {fields.get('total_amount')!r} differs from ours")
    if fields.get("product_code") != settings.ESEWA_PRODUCT_CODE:
        notes.append("product_code differs from ours")
    outcome = "signature valid; verification queued" + (f" ({'; '.join(notes)})" if notes else "")
    if notes:
        logger.warning("esewa callback disagrees with the payment", extra={"payment_id": payment.pk})
    _callback_record(payment=payment, gateway=Gateway.ESEWA, url=url, data=fields, outcome=outcome)
    _queue_verify(payment)
    return payment


def esewa_callback_failure(*, ref: str, url: str, data: dict) -> Payment | None:
    """eSewa's failure redirect (unsigned): an untouched attempt is marked canceled; nothing else."""
    payment = Payment.objects.filter(merchant_ref=ref, gateway=Gateway.ESEWA).first() if ref else None
    if payment is None:
        _callback_record(payment=None, gateway=Gateway.ESEWA, url=url, data=data, outcome="unknown transaction")
        return None
    marked = Payment.objects.filter(pk=payment.pk, status=S.INITIATED).update(
        status=S.CANCELED, review_reason="payer came back through the failure URL", updated_at=timezone.now()
    )
    _callback_record(
        payment=payment, gateway=Gateway.ESEWA, url=url, data=data, outcome="marked canceled" if marked else "ignored"
    )
    payment.refresh_from_db()
    return payment


def khalti_callback(*, params: dict[str, str], url: str) -> Payment | None:
    """Khalti's return URL: its query is unsigned, so it only names the pidx to look up."""
    pidx = params.get("pidx") or ""
    payment = Payment.objects.filter(gateway=Gateway.KHALTI, gateway_ref=pidx).first() if pidx else None
    order = params.get("purchase_order_id")
    if payment is None or (order and order != payment.merchant_ref):
        outcome = "rejected: unknown pidx" if payment is None else "rejected: purchase_order_id is not this pidx's"
        _callback_record(payment=payment, gateway=Gateway.KHALTI, url=url, data=params, outcome=outcome)
        logger.warning("khalti callback rejected", extra={"payment_id": payment and payment.pk})
        return None
    _callback_record(payment=payment, gateway=Gateway.KHALTI, url=url, data=params, outcome="verification queued")
    _queue_verify(payment)
    return payment


def payment_verify_request(*, user: User, payment_id: int) -> Payment:
    """The payer asks us to check again (e.g. the app came back from the web view)."""
    payment = Payment.objects.filter(pk=payment_id, user=user).first()
    if payment is None:
        raise NotFound("No such payment.")
    if payment.status in AUTO_VERIFY:
        _queue_verify(payment)
    return payment


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


def callback_params(query: Any) -> dict[str, str]:
    return {key: str(query.get(key, ""))[:300] for key in query}
