"""HTTP clients for eSewa ePay v2 and Khalti KPG-2 (the real gateways or the built-in sandbox).

Every request and response is recorded as a GatewayExchange. These calls are slow I/O: callers must
not hold a database transaction or a row lock while making them. Answers are normalised into a
GatewayAnswer; deciding what it means for a payment is the service's job.
"""

import enum
import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin

import requests
from django.conf import settings

from apps.payments.exceptions import GatewayNotConfigured, GatewayRejected, GatewayUnavailable
from apps.payments.models import Gateway, GatewayExchange, Payment
from apps.payments.signing import FORM_SIGNED_FIELDS, esewa_sign, paisa_from_rupees, rupees_from_paisa

logger = logging.getLogger(__name__)


class State(enum.StrEnum):
    COMPLETE = "complete"
    PENDING = "pending"  # still running at the gateway: ask again later
    AMBIGUOUS = "ambiguous"  # the gateway answered, but not with anything we can act on
    UNAVAILABLE = "unavailable"  # timeout, connection error, 5xx, outage body
    NOT_FOUND = "not_found"
    CANCELED = "canceled"  # eSewa CANCELED (reversed by eSewa)
    USER_CANCELED = "user_canceled"  # Khalti "User canceled"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


@dataclass(frozen=True)
class GatewayAnswer:
    state: State
    raw_status: str = ""
    amount_paisa: int | None = None
    txn_id: str | None = None
    mismatch: str = ""  # non-empty when the answer is about something other than what we asked


def _timeout() -> tuple[float, float]:
    return (min(3.05, settings.PAYMENT_GATEWAY_TIMEOUT), settings.PAYMENT_GATEWAY_TIMEOUT)


def _record(**fields: Any) -> GatewayExchange:
    return GatewayExchange.objects.create(**fields)


def _send(
    *, payment: Payment, kind: str, method: str, url: str, params=None, json_body=None, headers=None
) -> tuple[requests.Response | None, GatewayExchange]:
    """Make one request; record it. Returns (None, exchange) on a transport failure."""
    started = time.monotonic()
    response, error = None, ""
    try:
        response = requests.request(
            method, url, params=params, json=json_body, headers=headers or {}, timeout=_timeout(), allow_redirects=False
        )
    except requests.Timeout:
        error = "timeout"
    except requests.RequestException as exc:
        error = f"connection error: {type(exc).__name__}"
    exchange = _record(
        payment=payment,
        gateway=payment.gateway,
        kind=kind,
        method=method,
        url=url,
        request_data=params or json_body or {},
        response_status=response.status_code if response is not None else None,
        response_body=response.text[:20_000] if response is not None else "",
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    return response, exchange


def _conclude(exchange: GatewayExchange, answer: GatewayAnswer) -> GatewayAnswer:
    exchange.outcome = f"{answer.state}" + (f": {answer.mismatch}" if answer.mismatch else "")
    exchange.save(update_fields=["outcome"])
    return answer


def _json(response: requests.Response) -> Any:
    try:
        return json.loads(response.text, parse_float=Decimal)
    except ValueError:
        return None


def gateway_configured_check(*, gateway: str) -> None:
    """Refuse before anything is written when the gateway's credentials are missing."""
    if gateway == Gateway.ESEWA and not (settings.ESEWA_SECRET_KEY and settings.ESEWA_PRODUCT_CODE):
        raise GatewayNotConfigured(details={"gateway": gateway})
    if gateway == Gateway.KHALTI and not settings.KHALTI_SECRET_KEY:
        raise GatewayNotConfigured(details={"gateway": gateway})


# --- eSewa ------------------------------------------------------------------------------------


def esewa_form(*, payment: Payment, success_url: str, failure_url: str) -> tuple[str, dict[str, str]]:
    """The signed ePay v2 form the payer's browser posts to eSewa: (form URL, fields)."""
    if not settings.ESEWA_SECRET_KEY or not settings.ESEWA_PRODUCT_CODE:
        raise GatewayNotConfigured(details={"gateway": Gateway.ESEWA})
    amount = rupees_from_paisa(payment.amount_paisa)
    fields = {
        "amount": amount,
        "tax_amount": "0",
        "product_service_charge": "0",
        "product_delivery_charge": "0",
        "total_amount": amount,
        "transaction_uuid": payment.merchant_ref,
        "product_code": settings.ESEWA_PRODUCT_CODE,
        "success_url": success_url,
        "failure_url": failure_url,
        "signed_field_names": FORM_SIGNED_FIELDS,
    }
    fields["signature"] = esewa_sign(
        fields=fields, signed_field_names=FORM_SIGNED_FIELDS, secret=settings.ESEWA_SECRET_KEY
    )
    return settings.ESEWA_FORM_URL, fields


ESEWA_STATES = {
    "COMPLETE": State.COMPLETE,
    "PENDING": State.PENDING,
    "AMBIGUOUS": State.AMBIGUOUS,
    "NOT_FOUND": State.NOT_FOUND,
    "CANCELED": State.CANCELED,
    "FULL_REFUND": State.REFUNDED,
    "PARTIAL_REFUND": State.PARTIALLY_REFUNDED,
}


def esewa_status(*, payment: Payment) -> GatewayAnswer:
    """Ask eSewa's status API about the payment, with the values we stored (never the callback's)."""
    params = {
        "product_code": settings.ESEWA_PRODUCT_CODE,
        "total_amount": rupees_from_paisa(payment.amount_paisa),
        "transaction_uuid": payment.merchant_ref,
    }
    response, exchange = _send(
        payment=payment, kind=GatewayExchange.Kind.STATUS, method="GET", url=settings.ESEWA_STATUS_URL, params=params
    )
    if response is None or response.status_code >= 500:
        return _conclude(exchange, GatewayAnswer(State.UNAVAILABLE))
    body = _json(response)
    if not isinstance(body, dict):
        return _conclude(exchange, GatewayAnswer(State.AMBIGUOUS, mismatch="body is not a JSON object"))
    if "error_message" in body and "status" not in body:
        # {"code":0,"error_message":"Service is currently unavailable"} (HTTP code undocumented).
        return _conclude(exchange, GatewayAnswer(State.UNAVAILABLE, raw_status=str(body.get("error_message"))[:40]))
    raw = str(body.get("status", ""))
    state = ESEWA_STATES.get(raw, State.AMBIGUOUS)
    mismatch = ""
    if body.get("transaction_uuid") != payment.merchant_ref:
        mismatch = f"transaction_uuid {body.get('transaction_uuid')!r} is not ours"
    elif body.get("product_code") != settings.ESEWA_PRODUCT_CODE:
        mismatch = f"product_code {body.get('product_code')!r} is not ours"
    ref_id = body.get("ref_id")
    answer = GatewayAnswer(
        state=state,
        raw_status=raw[:40],
        amount_paisa=paisa_from_rupees(body.get("total_amount")),
        txn_id=str(ref_id)[:64] if ref_id not in (None, "") else None,
        mismatch=mismatch,
    )
    return _conclude(exchange, answer)


# --- Khalti -----------------------------------------------------------------------------------


def _khalti_headers() -> dict[str, str]:
    if not settings.KHALTI_SECRET_KEY:
        raise GatewayNotConfigured(details={"gateway": Gateway.KHALTI})
    return {"Authorization": f"Key {settings.KHALTI_SECRET_KEY}"}


def khalti_initiate(*, payment: Payment, return_url: str, website_url: str, customer_name: str) -> dict[str, Any]:
    """Start a KPG-2 payment. Returns {pidx, payment_url, expires_at, expires_in}."""
    body = {
        "return_url": return_url,
        "website_url": website_url,
        "amount": payment.amount_paisa,
        "purchase_order_id": payment.merchant_ref,
        "purchase_order_name": payment.package_name,
        "customer_info": {"name": customer_name},
    }
    response, exchange = _send(
        payment=payment,
        kind=GatewayExchange.Kind.INITIATE,
        method="POST",
        url=urljoin(settings.KHALTI_BASE_URL, "epayment/initiate/"),
        json_body=body,
        headers=_khalti_headers(),
    )
    if response is None or response.status_code >= 500:
        exchange.outcome = "unavailable"
        exchange.save(update_fields=["outcome"])
        raise GatewayUnavailable(details={"gateway": Gateway.KHALTI})
    data = _json(response)
    ok = (
        response.status_code == 200
        and isinstance(data, dict)
        and isinstance(data.get("pidx"), str)
        and isinstance(data.get("payment_url"), str)
    )
    if not ok:
        exchange.outcome = "rejected"
        exchange.save(update_fields=["outcome"])
        logger.error("khalti initiate refused", extra={"payment_id": payment.pk, "status": response.status_code})
        errors = {k: v for k, v in data.items() if k != "error_key"} if isinstance(data, dict) else {}
        raise GatewayRejected(details={"gateway": Gateway.KHALTI, "gateway_errors": errors})
    exchange.outcome = "initiated"
    exchange.save(update_fields=["outcome"])
    return data


KHALTI_STATES = {
    "completed": State.COMPLETE,
    "pending": State.PENDING,
    "initiated": State.PENDING,
    "refunded": State.REFUNDED,
    "partially refunded": State.PARTIALLY_REFUNDED,
    "partially_refunded": State.PARTIALLY_REFUNDED,
    "expired": State.EXPIRED,
    "user canceled": State.USER_CANCELED,
}


def khalti_lookup(*, payment: Payment) -> GatewayAnswer:
    """Ask Khalti's lookup API about the stored pidx. Expired / User canceled come as HTTP 400 bodies."""
    if not payment.gateway_ref:
        return GatewayAnswer(State.NOT_FOUND, mismatch="no pidx stored (initiate never succeeded)")
    response, exchange = _send(
        payment=payment,
        kind=GatewayExchange.Kind.STATUS,
        method="POST",
        url=urljoin(settings.KHALTI_BASE_URL, "epayment/lookup/"),
        json_body={"pidx": payment.gateway_ref},
        headers=_khalti_headers(),
    )
    if response is None or response.status_code >= 500:
        return _conclude(exchange, GatewayAnswer(State.UNAVAILABLE))
    body = _json(response)
    if not isinstance(body, dict):
        return _conclude(exchange, GatewayAnswer(State.AMBIGUOUS, mismatch="body is not a JSON object"))
    if "status" not in body:
        if response.status_code == 404 or body.get("detail") == "Not found.":
            return _conclude(exchange, GatewayAnswer(State.NOT_FOUND, raw_status="Not found."))
        # 401 and anything else undocumented: a configuration problem or a gateway fault, not an answer.
        logger.error("khalti lookup unusable answer", extra={"payment_id": payment.pk, "status": response.status_code})
        return _conclude(exchange, GatewayAnswer(State.AMBIGUOUS, mismatch=f"HTTP {response.status_code}"))
    raw = str(body.get("status", ""))
    state = KHALTI_STATES.get(raw.strip().lower(), State.AMBIGUOUS)
    if response.status_code != 200 and state not in (State.EXPIRED, State.USER_CANCELED):
        state = State.AMBIGUOUS
    mismatch = "" if body.get("pidx") == payment.gateway_ref else f"pidx {body.get('pidx')!r} is not ours"
    amount = body.get("total_amount")
    txn = body.get("transaction_id")
    answer = GatewayAnswer(
        state=state,
        raw_status=raw[:40],
        amount_paisa=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        txn_id=str(txn)[:64] if txn not in (None, "") else None,
        mismatch=mismatch,
    )
    return _conclude(exchange, answer)


def gateway_status(*, payment: Payment) -> GatewayAnswer:
    if payment.gateway == Gateway.ESEWA:
        return esewa_status(payment=payment)
    return khalti_lookup(payment=payment)
