"""Payment tests run against the built-in gateway sandbox served over real HTTP by a live server."""

import base64
import json
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from apps.payments.models import Payment
from apps.payments.sandbox import state
from apps.wallet.selectors import ledger_audit
from tests.payments.factories import CoinPackageFactory, gateways_point_at_sandbox


@pytest.fixture(autouse=True)
def _ledger_sound_after(request):
    """Every payment test leaves a ledger that agrees with itself."""
    yield
    names = request.fixturenames
    if any(name in names for name in ("db", "transactional_db", "live_server")) or request.node.get_closest_marker(
        "django_db"
    ):
        assert ledger_audit() == []


@pytest.fixture
def sandbox(live_server, settings):
    """Point both gateways at the sandbox on the live server."""
    gateways_point_at_sandbox(settings, live_server.url)
    return live_server


@pytest.fixture
def esewa_keys(settings):
    settings.ESEWA_PRODUCT_CODE = "EPAYTEST"
    settings.ESEWA_SECRET_KEY = "8gBm/:&EnhH.1/q"


@pytest.fixture
def package(db):
    return CoinPackageFactory(price_paisa=50_000, coins=500, bonus_coins=25)


@pytest.fixture
def start_payment(auth_client):
    """POST /api/v1/payments/ as the user; returns the response body."""

    def start(user, package, gateway: str) -> dict:
        response = auth_client(user).post(
            "/api/v1/payments/",
            {"package": package.pk, "gateway": gateway},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        assert response.status_code == 201, response.json()
        return response.json()

    return start


def esewa_pay(body: dict, *, confirm: bool = True, follow: bool = True) -> requests.Response:
    """Play the payer's browser: post the signed form to the sandbox, then confirm or cancel."""
    session = requests.Session()
    checkout = body["checkout"]
    page = session.post(checkout["form_url"], data=checkout["fields"], timeout=30)
    assert page.status_code == 200, page.text
    return session.post(
        page.url, data={"action": "confirm" if confirm else "cancel"}, allow_redirects=follow, timeout=30
    )


def khalti_pay(body: dict, *, confirm: bool = True, follow: bool = True) -> requests.Response:
    session = requests.Session()
    url = body["checkout"]["payment_url"]
    page = session.get(url, timeout=30)
    assert page.status_code == 200, page.text
    pidx = parse_qs(urlparse(url).query)["pidx"][0]
    return session.post(
        url, data={"pidx": pidx, "action": "confirm" if confirm else "cancel"}, allow_redirects=follow, timeout=30
    )


def decode_esewa_data(callback_url: str) -> dict:
    return json.loads(base64.b64decode(parse_qs(urlparse(callback_url).query)["data"][0]))


def encode_esewa_data(fields: dict) -> str:
    return base64.b64encode(json.dumps(fields).encode()).decode()


def payment_of(body: dict) -> Payment:
    return Payment.objects.get(pk=body["id"])


def scenario(payment: Payment, **options) -> None:
    state.scenario_set(payment.merchant_ref, **options)
