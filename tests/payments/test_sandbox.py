"""The sandbox speaks the gateways' protocols: signatures, keys, validation, status codes."""

import pytest
import requests

from apps.payments.signing import esewa_sign

SECRET = "8gBm/:&EnhH.1/q"
KEY = {"Authorization": "Key test_secret_key_halobuzz_sandbox"}


def _esewa_form(uuid: str = "hb-1", total: str = "100") -> dict:
    fields = {
        "amount": total,
        "tax_amount": "0",
        "product_service_charge": "0",
        "product_delivery_charge": "0",
        "total_amount": total,
        "transaction_uuid": uuid,
        "product_code": "EPAYTEST",
        "success_url": "https://merchant.example/ok",
        "failure_url": "https://merchant.example/fail",
        "signed_field_names": "total_amount,transaction_uuid,product_code",
    }
    fields["signature"] = esewa_sign(fields=fields, signed_field_names=fields["signed_field_names"], secret=SECRET)
    return fields


@pytest.mark.django_db(transaction=True)
def test_esewa_form_rejects_a_bad_signature_with_es104(sandbox):
    url = f"{sandbox.url}/sandbox/esewa/api/epay/main/v2/form"
    tampered = {**_esewa_form(), "total_amount": "10", "amount": "10"}

    response = requests.post(url, data=tampered, timeout=10)
    missing = requests.post(url, data={**_esewa_form(), "tax_amount": ""}, timeout=10)
    good = requests.post(url, data=_esewa_form(), allow_redirects=False, timeout=10)

    assert response.status_code == 400 and "ES104" in response.text and "Invalid payload signature." in response.text
    assert missing.status_code == 400 and "tax_amount" in missing.text
    assert good.status_code == 302 and good.headers["Location"] == "/sandbox/esewa/pay/hb-1/"


@pytest.mark.django_db(transaction=True)
def test_esewa_status_api_and_signed_success_redirect(sandbox):
    from tests.payments.conftest import decode_esewa_data

    requests.post(f"{sandbox.url}/sandbox/esewa/api/epay/main/v2/form", data=_esewa_form(total="133"), timeout=10)
    status_url = f"{sandbox.url}/sandbox/esewa/api/epay/transaction/status/"
    params = {"product_code": "EPAYTEST", "total_amount": "133", "transaction_uuid": "hb-1"}
    before = requests.get(status_url, params=params, timeout=10).json()

    redirect = requests.post(
        f"{sandbox.url}/sandbox/esewa/pay/hb-1/", data={"action": "confirm"}, allow_redirects=False, timeout=10
    )
    data = decode_esewa_data(redirect.headers["Location"])
    after = requests.get(status_url, params=params, timeout=10)
    unknown = requests.get(status_url, params={**params, "transaction_uuid": "nope"}, timeout=10).json()

    assert before["status"] == "PENDING"
    assert redirect.headers["Location"].startswith("https://merchant.example/ok?data=")
    assert data["total_amount"] == "133.0" and data["status"] == "COMPLETE"
    assert data["signature"] == esewa_sign(fields=data, signed_field_names=data["signed_field_names"], secret=SECRET)
    assert '"total_amount": 133.0' in after.text
    assert after.json()["status"] == "COMPLETE" and after.json()["ref_id"] == data["transaction_code"]
    assert unknown["status"] == "NOT_FOUND" and unknown["ref_id"] is None


@pytest.mark.django_db(transaction=True)
def test_khalti_initiate_checks_the_key_and_validates(sandbox):
    url = f"{sandbox.url}/sandbox/khalti/api/v2/epayment/initiate/"
    body = {
        "return_url": "https://merchant.example/back",
        "website_url": "https://merchant.example",
        "amount": 1000,
        "purchase_order_id": "o-1",
        "purchase_order_name": "Coins",
    }

    no_key = requests.post(url, json=body, headers={"Authorization": "Bearer x"}, timeout=10)
    bad_key = requests.post(url, json=body, headers={"Authorization": "Key nope"}, timeout=10)
    invalid = requests.post(url, json={**body, "amount": 999, "return_url": ""}, headers=KEY, timeout=10)
    ok = requests.post(url, json=body, headers=KEY, timeout=10)

    assert no_key.status_code == 401 and no_key.json()["detail"] == "Authentication credentials were not provided."
    assert bad_key.status_code == 401 and bad_key.json()["detail"] == "Invalid token."
    assert invalid.status_code == 400 and invalid.json()["error_key"] == "validation_error"
    assert set(invalid.json()) == {"amount", "return_url", "error_key"}
    assert ok.status_code == 200 and set(ok.json()) == {"pidx", "payment_url", "expires_at", "expires_in"}


@pytest.mark.django_db(transaction=True)
def test_khalti_lookup_codes(sandbox):
    base = f"{sandbox.url}/sandbox/khalti/api/v2/epayment/"
    body = {
        "return_url": "https://merchant.example/back",
        "website_url": "https://merchant.example",
        "amount": 1000,
        "purchase_order_id": "o-2",
        "purchase_order_name": "Coins",
    }
    pidx = requests.post(base + "initiate/", json=body, headers=KEY, timeout=10).json()["pidx"]

    initiated = requests.post(base + "lookup/", json={"pidx": pidx}, headers=KEY, timeout=10)
    not_found = requests.post(base + "lookup/", json={"pidx": "zzz"}, headers=KEY, timeout=10)
    redirect = requests.post(
        f"{sandbox.url}/sandbox/khalti/pay/", data={"pidx": pidx, "action": "cancel"}, allow_redirects=False, timeout=10
    )
    canceled = requests.post(base + "lookup/", json={"pidx": pidx}, headers=KEY, timeout=10)

    assert initiated.status_code == 200 and initiated.json()["status"] == "Initiated"
    assert not_found.status_code == 404 and not_found.json() == {
        "detail": "Not found.",
        "error_key": "validation_error",
    }
    assert (
        "status=User+canceled" in redirect.headers["Location"]
        and "purchase_order_id=o-2" in redirect.headers["Location"]
    )
    assert canceled.status_code == 400 and canceled.json()["status"] == "User canceled"
    assert canceled.json()["total_amount"] == 1000


@pytest.mark.django_db
def test_sandbox_is_off_unless_enabled(client, settings):
    settings.PAYMENTS_SANDBOX_ENABLED = False
    assert client.post("/sandbox/khalti/api/v2/epayment/initiate/").status_code == 404
    assert client.get("/sandbox/esewa/api/epay/transaction/status/").status_code == 404
