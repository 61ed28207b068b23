"""Every HTML page carries a Content-Security-Policy that allows no inline script, and no page
needs one; /api/docs/ and /api/schema/ are closed in production unless API_DOCS_PUBLIC."""

import re

import pytest
from django.test import Client, override_settings

from apps.accounts.services import tokens_issue
from apps.payments.services import payment_create
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.live.factories import LiveStreamFactory
from tests.payments.factories import CoinPackageFactory

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


def assert_strict_page(response) -> None:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html")
    policy = directives(response)
    assert policy["script-src"][0] == "'self'" and "'unsafe-inline'" not in policy["script-src"], policy
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    html = response.content.decode()
    assert INLINE_SCRIPT.findall(html) == []  # a script the policy would block
    assert INLINE_HANDLER.findall(html) == []  # onclick= and the like


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_the_room_page_has_a_strict_policy():
    assert_strict_page(Client().get(f"/streams/{LiveStreamFactory().pk}/watch/"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        "/admin/analytics/",
        "/admin/moderation/case/?status__exact=open",
    ],
)
def test_admin_pages_have_a_strict_policy(staff_client, path):
    assert_strict_page(staff_client.get(path))


@pytest.mark.django_db
def test_the_admin_login_has_a_strict_policy():
    assert_strict_page(Client().get("/admin/login/"))


@pytest.fixture
def esewa_payment(db, settings):
    # eSewa needs no call to create a payment: its form settings are enough (the sandbox's values).
    settings.ESEWA_FORM_URL = "http://127.0.0.1:9/sandbox/esewa/api/epay/main/v2/form"
    settings.ESEWA_PRODUCT_CODE = "EPAYTEST"
    settings.ESEWA_SECRET_KEY = "8gBm/:&EnhH.1/q"
    payment, _ = payment_create(
        user=UserFactory(), package=CoinPackageFactory(), gateway="esewa", idempotency_key="csp-1", fingerprint="f"
    )
    return payment


def test_payment_pages_have_a_strict_policy(esewa_payment):
    assert_strict_page(Client().get(f"/payments/result/{esewa_payment.merchant_ref}/"))
    assert_strict_page(Client().get("/payments/result/"))


def test_the_esewa_hand_off_submits_its_form_from_a_file(esewa_payment):
    response = Client().get(f"/payments/esewa/{esewa_payment.merchant_ref}/")
    assert_strict_page(response)
    assert "payments/esewa_handoff" in response.content.decode()


@pytest.mark.django_db
@override_settings(API_DOCS_PUBLIC=True)
def test_the_docs_page_has_a_strict_policy():
    assert_strict_page(Client().get("/api/docs/"))


@pytest.mark.django_db
@override_settings(API_DOCS_PUBLIC=False)
@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/"])
def test_production_closes_the_docs_and_schema_to_everyone_but_staff(path, staff_client):
    assert_error(Client().get(path), 401)
    user_token = tokens_issue(user=UserFactory())["access"]
    assert_error(Client().get(path, HTTP_AUTHORIZATION=f"Bearer {user_token}"), 403, "permission_denied")
    # staff: signed in to the admin, or with a staff token
    assert staff_client.get(path).status_code == 200
    staff_token = tokens_issue(user=UserFactory(is_staff=True))["access"]
    assert Client().get(path, HTTP_AUTHORIZATION=f"Bearer {staff_token}").status_code == 200


@pytest.mark.django_db
@override_settings(API_DOCS_PUBLIC=True)
@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/"])
def test_api_docs_public_opens_them_to_anyone(path):
    assert Client().get(path).status_code == 200


def test_the_docs_default_is_open_only_in_the_embedded_mode():
    import subprocess
    import sys

    code = "import django, os; django.setup(); from django.conf import settings; print(settings.API_DOCS_PUBLIC)"
    base = {"DJANGO_SETTINGS_MODULE": "halobuzz.settings", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    embedded = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, check=True)
    assert embedded.stdout.strip() == "True"
    production = {
        **base,
        "DATABASE_URL": "postgres://x@127.0.0.1:1/x",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SECRET_KEY": "x" * 50,
        "MEDIA_STORAGE": "filesystem",
    }
    closed = subprocess.run([sys.executable, "-c", code], env=production, capture_output=True, text=True, check=True)
    assert closed.stdout.strip() == "False"
