"""Every error under /api/ is the one JSON shape, whatever answered it (Django, DRF, a crash) and in
both modes: DEBUG on (the embedded default) and off (production). Pages keep Django's HTML."""

import pytest
from django.test import Client
from django.urls import path

from halobuzz.urls import urlpatterns as product_urlpatterns
from tests.core.errors import assert_error


def crash(request):
    raise RuntimeError("a bug")


# The product's URLs plus one view that fails under /api/ and one that fails on a page.
urlpatterns = [
    path("api/v1/test-crash/", crash),
    path("test-crash/", crash),
    *product_urlpatterns,
]

MODES = pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])


@pytest.fixture
def client_in_mode(settings):
    def make(debug: bool) -> Client:
        settings.DEBUG = debug
        return Client(raise_request_exception=False)

    return make


@MODES
@pytest.mark.parametrize("url", ["/api/v1/nope/", "/api/v1/streams/999/nope/", "/api/v2/me/", "/api/"])
@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404(client_in_mode, debug, url):
    # given either mode, when an API client asks for a path that does not exist
    response = client_in_mode(debug).get(url, HTTP_ACCEPT="text/html,application/json")

    # then it reads the one error shape, never Django's HTML page
    assert_error(response, 404, "not_found")


@MODES
@pytest.mark.django_db
def test_an_unknown_page_stays_html(client_in_mode, debug):
    response = client_in_mode(debug).get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@MODES
@pytest.mark.django_db
def test_a_missing_trailing_slash_still_redirects(client_in_mode, debug):
    response = client_in_mode(debug).get("/api/v1/me")
    assert response.status_code == 301 and response["Location"] == "/api/v1/me/"


@MODES
@pytest.mark.parametrize("url", ["/api/docs/", "/api/schema/"])
@pytest.mark.django_db
def test_a_wrong_method_on_the_docs_is_a_json_405(client_in_mode, debug, url):
    # the docs views render HTML and YAML; their refusals must not
    response = client_in_mode(debug).post(url, {})
    body = assert_error(response, 405, "method_not_allowed")
    assert "POST" in body["message"]
    assert "GET" in response["Allow"]


@MODES
@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_a_crash_under_the_api_is_a_json_500_and_a_page_crash_stays_html(client_in_mode, debug):
    client = client_in_mode(debug)

    body = assert_error(client.get("/api/v1/test-crash/"), 500, "server_error")
    assert "a bug" not in body["message"]  # nothing of the bug is shown to the client

    page = client.get("/test-crash/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
