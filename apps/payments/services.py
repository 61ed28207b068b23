"""Every write of the payments app: starting a payment and taking callbacks here; verifying and
settling in apps.payments.settlement (its public names are importable from here as well).

The one rule: coins are credited only by `payment_verify`, after the gateway's own status API said
COMPLETE for exactly the stored amount, through one ledger entry (kind "topup", ref = payment id).
Callbacks are hints: they are recorded and queue a verification, nothing more.
"""

import base64
import binascii
import json
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.accounts.services import user_require_adult
from apps.core.exceptions import DomainError, IdempotencyKeyReused, NotFound
from apps.payments import gateways
from apps.payments.exceptions import PaymentAttemptFailed, PaymentInProgress
from apps.payments.links import esewa_callback_urls, khalti_return_url
from apps.payments.models import CoinPackage, Gateway, GatewayExchange, Payment
from apps.payments.settlement import AUTO_VERIFY, S
from apps.payments.settlement import RefundSettlement as RefundSettlement
from apps.payments.settlement import SettleMethod as SettleMethod
from apps.payments.settlement import VerifyOutcome as VerifyOutcome
from apps.payments.settlement import payment_refund_settle as payment_refund_settle
from apps.payments.settlement import payment_reverify as payment_reverify
from apps.payments.settlement import payment_verify as payment_verify
from apps.payments.settlement import payments_reconcile as payments_reconcile
from apps.payments.signing import esewa_signature_valid, paisa_from_rupees

logger = logging.getLogger(__name__)

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
    Refused to minors (AgeRestricted) and to accounts held or rejected by the age check (AgeCheckFailed).
    """
    existing = Payment.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(payment=existing, fingerprint=fingerprint)
    # Minors, and accounts whose age check estimated a possible minor, buy no coins.
    user_require_adult(user=user)
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


def _callback_record(*, payment: Payment | None, gateway: str, url: str, data: dict[str, Any], outcome: str) -> None:
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


def esewa_callback_failure(*, ref: str, url: str, data: dict[str, Any]) -> Payment | None:
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
        raise NotFound(gettext_lazy("No such payment."))
    if payment.status in AUTO_VERIFY:
        _queue_verify(payment)
    return payment


def callback_params(query: Any) -> dict[str, str]:
    return {key: str(query.get(key, ""))[:300] for key in query}
