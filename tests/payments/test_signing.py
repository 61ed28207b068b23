"""eSewa signing vectors from the protocol reference, and amount formatting."""

import pytest

from apps.payments.signing import (
    esewa_sign,
    esewa_signature_valid,
    paisa_from_rupees,
    rupees_from_paisa,
    rupees_one_decimal,
)

SECRET = "8gBm/:&EnhH.1/q"
NAMES = "total_amount,transaction_uuid,product_code"


@pytest.mark.parametrize(
    ("fields", "signature"),
    [
        (
            {"total_amount": "100", "transaction_uuid": "11-201-13", "product_code": "EPAYTEST"},
            "5DZywcrTKD0gia/rsSMcrRHmJl+4Tbol6S+lWgdJ94E=",
        ),
        (
            {"total_amount": "110", "transaction_uuid": "241028", "product_code": "EPAYTEST"},
            "i94zsd3oXF6ZsSr/kGqT4sSzYQzjj1W/waxjWyRwaME=",
        ),
    ],
)
def test_form_signature_vectors(fields, signature):
    assert esewa_sign(fields=fields, signed_field_names=NAMES, secret=SECRET) == signature
    assert esewa_signature_valid(fields={**fields, "signed_field_names": NAMES, "signature": signature}, secret=SECRET)


def test_signature_is_checked_over_raw_values():
    # given a callback signed over "133.0"
    fields = {
        "total_amount": "133.0",
        "transaction_uuid": "abc",
        "product_code": "EPAYTEST",
        "signed_field_names": NAMES,
    }
    fields["signature"] = esewa_sign(fields=fields, signed_field_names=NAMES, secret=SECRET)
    # then re-formatting the value ("133") breaks it, and so does another key
    assert esewa_signature_valid(fields=fields, secret=SECRET)
    assert not esewa_signature_valid(fields={**fields, "total_amount": "133"}, secret=SECRET)
    assert not esewa_signature_valid(fields=fields, secret="another")
    assert not esewa_signature_valid(fields={**fields, "signed_field_names": "total_amount,missing"}, secret=SECRET)


@pytest.mark.parametrize(
    ("paisa", "posted", "echoed"),
    [(10_000, "100", "100.0"), (13_300, "133", "133.0"), (12_350, "123.5", "123.5"), (12_345, "123.45", "123.45")],
)
def test_amounts_round_trip_without_floats(paisa, posted, echoed):
    assert rupees_from_paisa(paisa) == posted
    assert rupees_one_decimal(paisa) == echoed
    assert paisa_from_rupees(posted) == paisa_from_rupees(echoed) == paisa


@pytest.mark.parametrize(
    ("value", "paisa"), [("1,000.0", 100_000), (100, 10_000), ("1.005", None), ("x", None), (None, None)]
)
def test_paisa_parsing(value, paisa):
    assert paisa_from_rupees(value) == paisa
