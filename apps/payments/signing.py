"""eSewa ePay v2 signatures and amounts (shared by the client and the sandbox).

Amounts are integers in paisa everywhere; eSewa's strings are made from them through Decimal, never
float, and parsed back the same way.
"""

import base64
import hashlib
import hmac
from decimal import Decimal, InvalidOperation

FORM_SIGNED_FIELDS = "total_amount,transaction_uuid,product_code"
CALLBACK_SIGNED_FIELDS = "transaction_code,status,total_amount,transaction_uuid,product_code,signed_field_names"


def esewa_sign(*, fields: dict[str, str], signed_field_names: str, secret: str) -> str:
    """HMAC-SHA256 over `name=value` for each signed name in order, joined by commas, base64."""
    message = ",".join(f"{name}={fields[name]}" for name in signed_field_names.split(","))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def esewa_signature_valid(*, fields: dict, secret: str) -> bool:
    """Check a signed payload over its raw values, exactly as received (never re-formatted)."""
    names = fields.get("signed_field_names")
    signature = fields.get("signature")
    if not isinstance(names, str) or not isinstance(signature, str) or not names:
        return False
    if any(not isinstance(fields.get(name), str | int) for name in names.split(",")):
        return False
    expected = esewa_sign(fields={k: str(v) for k, v in fields.items()}, signed_field_names=names, secret=secret)
    return hmac.compare_digest(expected.encode(), signature.encode())


def rupees_from_paisa(paisa: int) -> str:
    """10000 → "100", 12350 → "123.5": the string we post (whole rupees without decimals)."""
    value = Decimal(paisa) / 100
    return str(value.to_integral_value()) if value == value.to_integral_value() else str(value.normalize())


def rupees_one_decimal(paisa: int) -> str:
    """10000 → "100.0": how eSewa echoes amounts in its signed callback."""
    value = Decimal(paisa) / 100
    return f"{value:.1f}" if (value * 10) == (value * 10).to_integral_value() else f"{value:.2f}"


def paisa_from_rupees(value: object) -> int | None:
    """ "133.0", "1,000.0", 100, Decimal("100.0") → paisa; None when it is not an exact amount."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).replace(",", "").strip()) * 100
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount != amount.to_integral_value():
        return None
    return int(amount)
