"""The OpenAPI schema builds cleanly, is served, and the interactive docs work offline."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


def generate(patterns=None) -> tuple[dict, list[str]]:
    """The schema and every warning or error drf-spectacular emitted while building it."""
    GENERATOR_STATS.reset()
    try:
        schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
        problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    finally:
        GENERATOR_STATS.reset()
    return schema, problems


def test_the_foundation_endpoints_document_themselves_without_warnings():
    # given only the endpoints of accounts and wallet (the foundation the other apps build on)
    patterns = [
        path(
            "api/v1/",
            include([path("", include("apps.accounts.urls")), path("wallet/", include("apps.wallet.urls"))]),
        )
    ]

    # when their schema is generated
    schema, problems = generate(patterns)

    # then nothing was guessed, every path is there, and the document is valid OpenAPI 3
    assert problems == []
    validate_schema(schema)
    paths = set(schema["paths"])
    assert {
        "/api/v1/auth/signup/",
        "/api/v1/auth/login/",
        "/api/v1/auth/refresh/",
        "/api/v1/auth/logout/",
        "/api/v1/me/",
        "/api/v1/me/password/",
        "/api/v1/me/blocked/",
        "/api/v1/users/{username}/",
        "/api/v1/users/{username}/follow/",
        "/api/v1/users/{username}/block/",
        "/api/v1/users/{username}/followers/",
        "/api/v1/users/{username}/following/",
        "/api/v1/wallet/cashouts/",
    } <= paths
    assert "jwtAuth" in schema["components"]["securitySchemes"]
    signup = schema["paths"]["/api/v1/auth/signup/"]["post"]
    assert signup["operationId"] == "auth_signup"
    assert "SignupApiInputRequest" in signup["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert signup["security"] == [{}]  # no authentication
    assert {"jwtAuth": []} in schema["paths"]["/api/v1/me/"]["get"]["security"]
    # two apps' UserBriefSerializer do not collide: each gets its app as a prefix
    assert "AccountsUserBrief" in schema["components"]["schemas"]


def test_manage_py_spectacular_passes_with_fail_on_warn(tmp_path: Path):
    """The whole project's schema: every app's views must describe their input and output."""
    out = tmp_path / "schema.yaml"
    GENERATOR_STATS.reset()
    try:
        call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))
    finally:
        GENERATOR_STATS.reset()
    assert out.read_text().startswith("openapi: 3")


@pytest.mark.django_db
def test_the_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.") and body["info"]["title"] == "HaloBuzz API"
    assert "/api/v1/auth/login/" in body["paths"]


@pytest.mark.django_db
def test_the_docs_page_and_every_asset_it_loads_are_served_offline(client):
    # when the interactive docs are opened
    response = client.get("/api/docs/")

    # then the page loads its scripts and styles from our own static files (no CDN)
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html[:500]
    assert not [url for url in urls if url.startswith(("http:", "https:", "//"))], urls
    static_assets = [url for url in urls if url.startswith(settings.STATIC_URL)]
    assert any("swagger-ui-bundle" in url for url in static_assets), urls
    assert any(url.endswith(".css") for url in static_assets), urls
    for url in urls:
        asset = client.get(url.replace("&amp;", "&"))
        assert asset.status_code == 200, url
        if url.startswith(settings.STATIC_URL):
            name = re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", url.removeprefix(settings.STATIC_URL))
            assert finders.find(name), name  # the sidecar ships it: nothing is fetched from the internet
