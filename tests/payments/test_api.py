"""The payment API: packages, starting a payment, reading and re-verifying one's own payments."""

import uuid
from urllib.parse import urlparse

import pytest

from apps.payments.models import GatewayExchange, Payment
from apps.wallet.selectors import coins_balance
from tests.payments.conftest import esewa_pay, payment_of
from tests.payments.factories import CoinPackageFactory

URL = "/api/v1/payments/"


def _error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    return body


@pytest.mark.django_db
def test_packages_list_active_in_order(api_client):
    CoinPackageFactory(name="B", order=2)
    CoinPackageFactory(name="A", order=1, price_paisa=10_000, coins=100, bonus_coins=0)
    CoinPackageFactory(name="Hidden", active=False)

    response = api_client.get(URL + "packages/")

    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == ["A", "B"]
    assert response.json()[0] == {
        "id": response.json()[0]["id"],
        "name": "A",
        "price_paisa": 10_000,
        "coins": 100,
        "bonus_coins": 0,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "package"),
        ({"gateway": "esewa"}, "package"),
        ({"package": "abc", "gateway": "esewa"}, "package"),
        ({"package": 999_999, "gateway": "esewa"}, "package"),
        ({"package": "INACTIVE", "gateway": "esewa"}, "package"),
        ({"package": "OK"}, "gateway"),
        ({"package": "OK", "gateway": "paypal"}, "gateway"),
        ({"package": "OK", "gateway": "esewa", "amount_paisa": 1}, "amount_paisa"),
        ([1, 2], "non_field_errors"),
    ],
)
def test_bad_input_gets_the_error_shape_and_writes_nothing(auth_client, user, package, body, field):
    inactive = CoinPackageFactory(active=False)
    if isinstance(body, dict):
        body = {
            k: {"OK": package.pk, "INACTIVE": inactive.pk}.get(v, v) if k == "package" else v for k, v in body.items()
        }

    response = auth_client(user).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    error = _error_shape(response, 400, "invalid")
    assert field in error["details"]
    assert not Payment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "", "x" * 256, "bad\nkey"])
def test_missing_or_bad_idempotency_key_is_refused(auth_client, user, package, key):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}

    response = auth_client(user).post(URL, {"package": package.pk, "gateway": "esewa"}, format="json", **headers)

    _error_shape(response, 400, "idempotency_key_invalid")
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_malformed_json_and_anonymous_get_the_error_shape(api_client, auth_client, user):
    response = auth_client(user).post(URL, "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    _error_shape(response, 400, "parse_error")
    _error_shape(api_client.post(URL, {}, format="json", HTTP_IDEMPOTENCY_KEY="k"), 401, "not_authenticated")
    _error_shape(api_client.get(URL), 401, "not_authenticated")
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_esewa_start_returns_signed_form_and_replays_with_the_same_key(
    auth_client, user, package, esewa_keys, settings
):
    client = auth_client(user)
    body = {"package": package.pk, "gateway": "esewa"}

    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    other = client.post(URL, {**body, "gateway": "khalti"}, format="json", HTTP_IDEMPOTENCY_KEY="same")

    assert first.status_code == 201
    fields = first.json()["checkout"]["fields"]
    assert fields["signed_field_names"] == "total_amount,transaction_uuid,product_code"
    assert fields["transaction_uuid"] == first.json()["merchant_ref"]
    assert fields["success_url"] == settings.SITE_URL.rstrip("/") + "/payments/callback/esewa/success/"
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    _error_shape(other, 409, "idempotency_key_reused")
    assert Payment.objects.count() == 1
    assert payment_of(first.json()).package_name == package.name


@pytest.mark.django_db(transaction=True)
def test_khalti_refusal_fails_the_attempt(sandbox, auth_client, user, package, settings):
    # given a wrong Khalti key: the sandbox answers 401 like Khalti
    settings.KHALTI_SECRET_KEY = "wrong"
    client = auth_client(user)

    response = client.post(URL, {"package": package.pk, "gateway": "khalti"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    retry = client.post(URL, {"package": package.pk, "gateway": "khalti"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    error = _error_shape(response, 502, "gateway_rejected")
    assert error["details"]["gateway_errors"] == {"detail": "Invalid token.", "status_code": 401}
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.FAILED
    assert payment.exchanges.get().response_status == 401
    _error_shape(retry, 409, "payment_attempt_failed")


@pytest.mark.django_db
def test_khalti_unreachable_is_a_502(auth_client, user, package, settings):
    settings.KHALTI_SECRET_KEY = "test_secret_key_halobuzz_sandbox"
    settings.KHALTI_BASE_URL = "http://127.0.0.1:9/api/v2/"  # discard port: connection refused

    response = auth_client(user).post(
        URL, {"package": package.pk, "gateway": "khalti"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    _error_shape(response, 502, "gateway_unavailable")
    assert Payment.objects.get().exchanges.get().error.startswith("connection error")


@pytest.mark.django_db(transaction=True)
def test_user_cannot_see_or_verify_another_users_payment(
    sandbox, auth_client, user, other_user, package, start_payment
):
    # given another user's paid, unverified payment
    body = start_payment(other_user, package, "esewa")
    esewa_pay(body, follow=False)
    intruder = auth_client(user)

    # when the intruder reads, lists and asks to verify it
    detail = intruder.get(f"{URL}{body['id']}/")
    verify = intruder.post(f"{URL}{body['id']}/verify/")
    listing = intruder.get(URL)

    # then it does not exist for them, and nothing was asked of the gateway
    _error_shape(detail, 404, "not_found")
    _error_shape(verify, 404, "not_found")
    assert listing.json()["results"] == []
    assert not GatewayExchange.objects.filter(kind=GatewayExchange.Kind.STATUS).exists()

    # while the owner can, and their verify credits them
    owner = auth_client(other_user)
    assert owner.get(f"{URL}{body['id']}/").json()["status"] == "initiated"
    verified = owner.post(f"{URL}{body['id']}/verify/")
    assert verified.status_code == 202 and verified.json()["status"] == "completed"
    assert [p["id"] for p in owner.get(URL).json()["results"]] == [body["id"]]
    assert coins_balance(user_id=other_user.pk) == 525
    assert coins_balance(user_id=user.pk) == 0
    assert owner.get(f"{URL}{body['id']}/").json()["checkout"] is None


@pytest.mark.django_db
def test_unconfigured_gateway_is_refused_before_anything_is_written(auth_client, user, package, settings):
    settings.ESEWA_SECRET_KEY = ""

    response = auth_client(user).post(
        URL, {"package": package.pk, "gateway": "esewa"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    _error_shape(response, 503, "gateway_not_configured")
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_handoff_page_posts_the_signed_form(client, auth_client, user, package, esewa_keys):
    body = (
        auth_client(user)
        .post(URL, {"package": package.pk, "gateway": "esewa"}, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
        .json()
    )

    page = client.get(urlparse(body["checkout"]["handoff_url"]).path)

    assert page.status_code == 200
    html = page.content.decode()
    assert f'action="{body["checkout"]["form_url"]}"' in html
    assert f'name="signature" value="{body["checkout"]["fields"]["signature"]}"' in html
    assert client.get("/payments/esewa/no-such-ref/").status_code == 404
