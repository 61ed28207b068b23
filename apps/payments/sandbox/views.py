"""The sandbox's HTTP endpoints: eSewa ePay v2 (form, payer page, status API) and Khalti KPG-2
(initiate, payer page, lookup), plus a scenario control endpoint for tests and demos.

All views are async and keep their state in the cache only (see state.py for why).
"""

import asyncio
import base64
import functools
import json
import re
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from apps.payments.sandbox import state
from apps.payments.signing import (
    CALLBACK_SIGNED_FIELDS,
    esewa_sign,
    esewa_signature_valid,
    paisa_from_rupees,
    rupees_one_decimal,
)

NPT = timezone(timedelta(hours=5, minutes=45))
View = Callable[..., Coroutine[Any, Any, HttpResponse]]


def sandbox_view(view: View) -> View:
    """Only while the sandbox is enabled; no CSRF (it stands for another site)."""

    @functools.wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.PAYMENTS_SANDBOX_ENABLED:
            raise Http404
        return await view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


def _page(template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(render_to_string(f"payments/{template}", context), status=status)


def _with_query(url: str, params: dict[str, Any]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


async def _fault(ref: str, *, outage_body: dict[str, Any]) -> HttpResponse | None:
    """Apply the ref's scenario faults to one status/lookup query; a response replaces the answer."""
    scenario = state.scenario_get(ref)
    poll = state.count(ref, "polls")
    if scenario.get("delay"):
        await asyncio.sleep(float(scenario["delay"]))
    if poll <= int(scenario.get("timeout_polls", 0)):
        await asyncio.sleep(settings.PAYMENT_GATEWAY_TIMEOUT + 1)  # the client has given up by now
        return JsonResponse(outage_body, status=504)
    if poll <= int(scenario.get("outage_polls", 0)):
        return JsonResponse(outage_body, status=503)
    if poll <= int(scenario.get("bad_json_polls", 0)):
        return HttpResponse("<html><body>Gateway maintenance</body></html>", content_type="text/html")
    return None


# --- eSewa ePay v2 ----------------------------------------------------------------------------

ESEWA_FIELDS = (
    "amount",
    "tax_amount",
    "product_service_charge",
    "product_delivery_charge",
    "total_amount",
    "transaction_uuid",
    "product_code",
    "success_url",
    "failure_url",
    "signed_field_names",
    "signature",
)
UUID_RE = re.compile(r"^[A-Za-z0-9-]{1,100}$")
ESEWA_OUTAGE = {"code": 0, "error_message": "Service is currently unavailable"}


def _esewa_error(message: str, code: str = "") -> HttpResponse:
    return _page("sandbox_error.html", {"gateway": "eSewa", "code": code, "message": message}, status=400)


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


@sandbox_view
async def esewa_form(request: HttpRequest) -> HttpResponse:
    """POST /api/epay/main/v2/form: the merchant's signed form, posted by the payer's browser."""
    if request.method != "POST":
        return _esewa_error("This endpoint takes the payment form as a POST.")
    fields = {name: request.POST.get(name, "") for name in ESEWA_FIELDS}
    missing = [name for name, value in fields.items() if not value.strip()]
    if missing:
        return _esewa_error("Missing or empty fields: " + ", ".join(missing))
    secret = state.ESEWA_MERCHANTS.get(fields["product_code"])
    if secret is None:
        return _esewa_error("Invalid product code.")
    if not esewa_signature_valid(fields=fields, secret=secret):
        return _esewa_error("Invalid payload signature.", code="ES104")
    parts = [_decimal(fields[n]) for n in ("amount", "tax_amount", "product_service_charge", "product_delivery_charge")]
    total = _decimal(fields["total_amount"])
    amounts = [part for part in parts if part is not None]
    if len(amounts) != len(parts) or total is None or sum(amounts) != total or total <= 0:
        return _esewa_error("total_amount must be the sum of amount, tax_amount and the charges.")
    if not UUID_RE.match(fields["transaction_uuid"]):
        return _esewa_error("transaction_uuid may only contain letters, digits and hyphens.")
    uuid = fields["transaction_uuid"]
    existing = state.txn_get("esewa", uuid)
    if existing and existing["status"] != "PENDING":
        return _esewa_error("This transaction_uuid was already used.")
    state.txn_put(
        "esewa",
        uuid,
        {
            "transaction_uuid": uuid,
            "product_code": fields["product_code"],
            "total_amount": fields["total_amount"],
            "success_url": fields["success_url"],
            "failure_url": fields["failure_url"],
            "status": "PENDING",
            "ref_id": None,
        },
    )
    return HttpResponseRedirect(reverse("sandbox-esewa-pay", args=[uuid]))


@sandbox_view
async def esewa_pay(request: HttpRequest, transaction_uuid: str) -> HttpResponse:
    """The payer's page: log in with a test account, then confirm or cancel."""
    txn = state.txn_get("esewa", transaction_uuid)
    if txn is None:
        raise Http404
    if request.method != "POST":
        return _page("sandbox_esewa.html", {"txn": txn, "finished": txn["status"] != "PENDING"})
    if txn["status"] != "PENDING":
        return _esewa_error("This payment is already finished.")
    if request.POST.get("action") != "confirm":
        txn["status"] = "CANCELED_BY_PAYER"
        state.txn_put("esewa", transaction_uuid, txn)
        return HttpResponseRedirect(txn["failure_url"])
    txn["status"] = "COMPLETE"
    txn["ref_id"] = state.random_id(7, "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
    state.txn_put("esewa", transaction_uuid, txn)
    paisa = paisa_from_rupees(txn["total_amount"]) or 0
    data = {
        "transaction_code": txn["ref_id"],
        "status": "COMPLETE",
        "total_amount": rupees_one_decimal(paisa),  # eSewa echoes "100" as "100.0"
        "transaction_uuid": transaction_uuid,
        "product_code": txn["product_code"],
        "signed_field_names": CALLBACK_SIGNED_FIELDS,
    }
    data["signature"] = esewa_sign(
        fields=data, signed_field_names=CALLBACK_SIGNED_FIELDS, secret=state.ESEWA_MERCHANTS[txn["product_code"]]
    )
    encoded = base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    return HttpResponseRedirect(_with_query(txn["success_url"], {"data": encoded}))


@sandbox_view
async def esewa_status(request: HttpRequest) -> HttpResponse:
    """GET /api/epay/transaction/status/?product_code=&total_amount=&transaction_uuid="""
    code = request.GET.get("product_code", "")
    total = request.GET.get("total_amount", "")
    uuid = request.GET.get("transaction_uuid", "")
    if not code or not total or not uuid:
        return JsonResponse(
            {"code": 0, "error_message": "product_code, total_amount and transaction_uuid are required"}, status=400
        )
    fault = await _fault(uuid, outage_body=ESEWA_OUTAGE)
    if fault is not None:
        return fault
    scenario = state.scenario_get(uuid)
    txn = state.txn_get("esewa", uuid)
    known = (
        txn is not None
        and txn["product_code"] == code
        and _decimal(total) is not None
        and _decimal(total) == _decimal(txn["total_amount"])
        and not scenario.get("not_found")
    )
    reported = _decimal(total) or Decimal(0)
    status, ref_id = "NOT_FOUND", None
    if known and txn is not None:
        status = {"PENDING": "PENDING", "CANCELED_BY_PAYER": "NOT_FOUND"}.get(txn["status"], txn["status"])
        if status == "COMPLETE":
            ref_id = txn["ref_id"]
            if state.count(uuid, "pending") <= int(scenario.get("pending_polls", 0)):
                status, ref_id = "PENDING", None
            elif scenario.get("ambiguous"):
                status, ref_id = "AMBIGUOUS", None
            elif scenario.get("refund") in ("full", "partial"):
                status = "FULL_REFUND" if scenario["refund"] == "full" else "PARTIAL_REFUND"
        if "amount_paisa" in scenario:
            reported = Decimal(int(scenario["amount_paisa"])) / 100
    body = {
        "product_code": code,
        "transaction_uuid": uuid,
        "total_amount": float(reported),  # a JSON number, as eSewa sends it
        "status": status,
        "ref_id": ref_id,
    }
    return JsonResponse(body)


# --- Khalti KPG-2 -----------------------------------------------------------------------------

KHALTI_OUTAGE = {"detail": "Service temporarily unavailable, try again later.", "status_code": 503}


def _khalti_auth(request: HttpRequest) -> JsonResponse | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Key "):
        return JsonResponse({"detail": "Authentication credentials were not provided.", "status_code": 401}, status=401)
    if header[4:].strip() not in state.KHALTI_SECRET_KEYS:
        return JsonResponse({"detail": "Invalid token.", "status_code": 401}, status=401)
    return None


def _khalti_body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _validation_error(errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({**errors, "error_key": "validation_error"}, status=400)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and bool(re.match(r"^https?://[^\s/]+", value))


@sandbox_view
async def khalti_initiate(request: HttpRequest) -> HttpResponse:
    """POST epayment/initiate/ with Authorization: Key <secret>."""
    if request.method != "POST":
        return JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
    denied = _khalti_auth(request)
    if denied:
        return denied
    body = _khalti_body(request)
    if body is None:
        return _validation_error({"detail": ["JSON parse error."]})
    errors: dict[str, list[str]] = {}
    for name in ("return_url", "website_url"):
        if not body.get(name):
            errors[name] = ["This field is required."]
        elif not _is_url(body[name]):
            errors[name] = ["Enter a valid URL."]
    for name in ("purchase_order_id", "purchase_order_name"):
        if not isinstance(body.get(name), str | int) or str(body.get(name)).strip() == "":
            errors[name] = ["This field is required."]
    amount = body.get("amount")
    if amount is None:
        errors["amount"] = ["This field is required."]
    elif not isinstance(amount, int) or isinstance(amount, bool):
        errors["amount"] = ["A valid integer is required."]
    elif amount < 1000:
        errors["amount"] = ["Amount should be greater than Rs. 10, that is 1000 paisa."]
    if errors:
        return _validation_error(errors)
    pidx = state.random_id(22)
    expires_at = datetime.now(UTC) + timedelta(seconds=state.KHALTI_EXPIRES_IN)
    state.txn_put(
        "khalti",
        pidx,
        {
            "pidx": pidx,
            "purchase_order_id": str(body["purchase_order_id"]),
            "purchase_order_name": str(body["purchase_order_name"]),
            "amount": amount,
            "return_url": body["return_url"],
            "status": "Initiated",
            "transaction_id": None,
            "expires": time.time() + state.KHALTI_EXPIRES_IN,
        },
    )
    payment_url = request.build_absolute_uri(reverse("sandbox-khalti-pay")) + "?" + urlencode({"pidx": pidx})
    return JsonResponse(
        {
            "pidx": pidx,
            "payment_url": payment_url,
            "expires_at": expires_at.astimezone(NPT).isoformat(),
            "expires_in": state.KHALTI_EXPIRES_IN,
        }
    )


def _khalti_status(txn: dict[str, Any], scenario: dict[str, Any]) -> tuple[str, bool]:
    """(status, refunded) as the lookup API reports it now."""
    status = txn["status"]
    if status == "Initiated" and (scenario.get("expired") or time.time() > txn["expires"]):
        return "Expired", False
    if status != "Completed":
        return status, False
    if state.count(txn["purchase_order_id"], "pending") <= int(scenario.get("pending_polls", 0)):
        return "Pending", False
    if scenario.get("ambiguous"):
        return "Ambiguous", False
    if scenario.get("refund") == "full":
        return "Refunded", True
    if scenario.get("refund") == "partial":
        return "Partially refunded", True
    return "Completed", False


@sandbox_view
async def khalti_lookup(request: HttpRequest) -> HttpResponse:
    """POST epayment/lookup/ {"pidx"}. Expired and User canceled answer HTTP 400 with the full body."""
    if request.method != "POST":
        return JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
    denied = _khalti_auth(request)
    if denied:
        return denied
    body = _khalti_body(request)
    if body is None or not body.get("pidx"):
        return _validation_error({"pidx": ["This field is required."]})
    txn = state.txn_get("khalti", str(body["pidx"]))
    if txn is None:
        return JsonResponse({"detail": "Not found.", "error_key": "validation_error"}, status=404)
    ref = txn["purchase_order_id"]
    fault = await _fault(ref, outage_body=KHALTI_OUTAGE)
    if fault is not None:
        return fault
    scenario = state.scenario_get(ref)
    status, refunded = _khalti_status(txn, scenario)
    amount = int(scenario.get("amount_paisa", txn["amount"]))
    paid = status in ("Completed", "Refunded", "Partially refunded")
    answer = {
        "pidx": txn["pidx"],
        "total_amount": amount,
        "status": status,
        "transaction_id": txn["transaction_id"] if paid else None,
        "fee": 0,
        "refunded": refunded,
    }
    return JsonResponse(answer, status=400 if status in ("Expired", "User canceled") else 200)


@sandbox_view
async def khalti_pay(request: HttpRequest) -> HttpResponse:
    """The payer's page (payment_url): Khalti ID, MPIN and OTP, then confirm or cancel."""
    pidx = request.GET.get("pidx") or request.POST.get("pidx") or ""
    txn = state.txn_get("khalti", pidx)
    if txn is None:
        raise Http404
    expired = txn["status"] == "Initiated" and time.time() > txn["expires"]
    if request.method != "POST":
        return _page("sandbox_khalti.html", {"txn": txn, "finished": txn["status"] != "Initiated" or expired})
    if txn["status"] != "Initiated" or expired:
        return _page(
            "sandbox_error.html", {"gateway": "Khalti", "message": "This payment link is no longer valid."}, 400
        )
    if request.POST.get("action") == "confirm":
        txn["status"] = "Completed"
        txn["transaction_id"] = state.random_id(22)
    else:
        txn["status"] = "User canceled"
    state.txn_put("khalti", pidx, txn)
    paid = txn["status"] == "Completed"
    params = {
        "pidx": pidx,
        "transaction_id": txn["transaction_id"] or "",
        "tidx": txn["transaction_id"] or "",
        "txnId": txn["transaction_id"] or "",
        "amount": txn["amount"],
        "total_amount": txn["amount"],
        "mobile": "98XXXXX000" if paid else "",
        "status": txn["status"],
        "purchase_order_id": txn["purchase_order_id"],
        "purchase_order_name": txn["purchase_order_name"],
    }
    return HttpResponseRedirect(_with_query(txn["return_url"], params))


# --- Scenario control -------------------------------------------------------------------------


@sandbox_view
async def scenario(request: HttpRequest, ref: str) -> HttpResponse:
    """GET / POST (merge JSON options) / DELETE the scenario of a transaction ref."""
    if request.method == "DELETE":
        state.scenario_clear(ref)
        return JsonResponse({"ref": ref, "scenario": {}})
    if request.method == "POST":
        body = _khalti_body(request)
        if body is None:
            return JsonResponse({"detail": "Send a JSON object."}, status=400)
        try:
            state.scenario_set(ref, **body)
        except ValueError as exc:
            return JsonResponse({"detail": str(exc), "options": state.SCENARIO_KEYS}, status=400)
    return JsonResponse({"ref": ref, "scenario": state.scenario_get(ref), "options": state.SCENARIO_KEYS})
