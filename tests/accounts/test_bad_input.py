"""Every bad request to the accounts endpoints gets the one error shape, the right status, and writes nothing."""

import json

import pytest
from rest_framework.test import APIClient

from apps.accounts import services
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.core.errors import assert_error, assert_nothing_written, db_snapshot

SIGNUP = "/api/v1/auth/signup/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
PASSWORD = "/api/v1/me/password/"
STRONG = "sagarmatha-sunrise-8848"
GOOD_SIGNUP = {"username": "newcomer", "password": STRONG, "email": "new@example.com"}

# Endpoints taking a JSON object, with a valid body for each ("{refresh}" is filled in per test).
JSON_ENDPOINTS = [
    ("post", SIGNUP, False, GOOD_SIGNUP),
    ("post", LOGIN, False, {"identifier": "victim", "password": TEST_PASSWORD}),
    ("post", REFRESH, False, {"refresh": "{refresh}"}),
    ("post", LOGOUT, True, {"refresh": "{refresh}"}),
    ("patch", ME, True, {"display_name": "New name"}),
    ("post", PASSWORD, True, {"old_password": TEST_PASSWORD, "new_password": STRONG}),
]
JSON_IDS = ["signup", "login", "refresh", "logout", "me", "password"]
# me/ also takes forms and multipart (avatar uploads); the others take JSON only.
JSON_ONLY = [endpoint for endpoint in JSON_ENDPOINTS if endpoint[1] != ME]
JSON_ONLY_IDS = [name for name in JSON_IDS if name != "me"]


@pytest.fixture
def victim(db):
    return UserFactory(username="victim", email="victim@example.com")


@pytest.fixture
def session(victim):
    return services.tokens_issue(user=victim)


def client_for(authenticated: bool, session: dict) -> APIClient:
    client = APIClient()
    if authenticated:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
    return client


def fill(body: dict, session: dict) -> dict:
    return {key: session["refresh"] if value == "{refresh}" else value for key, value in body.items()}


def send_raw(client: APIClient, method: str, url: str, data: bytes | str, content_type: str):
    return getattr(client, method)(url, data=data, content_type=content_type)


# --- Bodies that are not a JSON object ------------------------------------------------------------


@pytest.mark.parametrize("method,url,authenticated,body", JSON_ENDPOINTS, ids=JSON_IDS)
@pytest.mark.parametrize(
    "raw,status,code",
    [
        ('{"username": ', 400, "parse_error"),
        ("{'single': 'quotes'}", 400, "parse_error"),
        ('{"a": NaN}', 400, "parse_error"),
        (b'{"a": "\xff\xfe"}', 400, "parse_error"),
        ("[1, 2, 3]", 400, "invalid"),
        ('"just a string"', 400, "invalid"),
        ("42", 400, "invalid"),
        ("null", 400, "invalid"),
        ("[" * 50_000 + "]" * 50_000, 400, None),
    ],
    ids=["truncated", "single-quotes", "nan", "not-utf8", "list", "string", "number", "null", "deeply-nested"],
)
def test_a_body_that_is_not_a_json_object_is_refused(session, method, url, authenticated, body, raw, status, code):
    client = client_for(authenticated, session)
    before = db_snapshot()
    response = send_raw(client, method, url, raw, "application/json")
    assert_error(response, status, code)
    assert_nothing_written(before)


# --- Wrong content types ------------------------------------------------------------------------


@pytest.mark.parametrize("method,url,authenticated,body", JSON_ENDPOINTS, ids=JSON_IDS)
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_a_body_in_another_content_type_is_415(session, method, url, authenticated, body, content_type):
    if url == ME and content_type == "application/x-www-form-urlencoded":
        content_type = "application/octet-stream"  # me/ takes forms for avatar uploads
    client = client_for(authenticated, session)
    payload = fill(body, session)
    raw = json.dumps(payload) if content_type != "application/x-www-form-urlencoded" else "a=1&b=2"
    before = db_snapshot()
    response = send_raw(client, method, url, raw, content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert_nothing_written(before)


@pytest.mark.parametrize("method,url,authenticated,body", JSON_ONLY, ids=JSON_ONLY_IDS)
def test_multipart_where_json_is_expected_is_415(session, method, url, authenticated, body):
    client = client_for(authenticated, session)
    before = db_snapshot()
    response = getattr(client, method)(url, fill(body, session), format="multipart")
    assert_error(response, 415, "unsupported_media_type")
    assert_nothing_written(before)


# --- Missing, unknown, mistyped, oversized fields ----------------------------------------------------


@pytest.mark.parametrize(
    "method,url,authenticated,required",
    [
        ("post", SIGNUP, False, {"username", "password"}),
        ("post", LOGIN, False, {"identifier", "password"}),
        ("post", REFRESH, False, {"refresh"}),
        ("post", LOGOUT, True, {"refresh"}),
        ("post", PASSWORD, True, {"old_password", "new_password"}),
    ],
    ids=["signup", "login", "refresh", "logout", "password"],
)
def test_missing_fields_are_named(session, method, url, authenticated, required):
    client = client_for(authenticated, session)
    before = db_snapshot()
    response = getattr(client, method)(url, {}, format="json")
    body = assert_error(response, 400, "invalid")
    assert required <= set(body["details"]), body
    for field in required:
        assert body["details"][field] == ["This field is required."]
    assert_nothing_written(before)


@pytest.mark.parametrize("method,url,authenticated,body", JSON_ENDPOINTS, ids=JSON_IDS)
@pytest.mark.parametrize("extra", [{"is_staff": True}, {"Username": "x"}, {"": 1}])
def test_unknown_fields_are_refused(session, method, url, authenticated, body, extra):
    client = client_for(authenticated, session)
    before = db_snapshot()
    response = getattr(client, method)(url, {**fill(body, session), **extra}, format="json")
    details = assert_error(response, 400, "invalid")["details"]
    assert details == {name: ["Unknown field."] for name in extra}
    assert_nothing_written(before)


WRONG_TYPES = [
    (SIGNUP, False, {**GOOD_SIGNUP, "username": {"nested": "object"}}, "username"),
    (SIGNUP, False, {**GOOD_SIGNUP, "password": ["list"]}, "password"),
    (SIGNUP, False, {**GOOD_SIGNUP, "email": True}, "email"),
    (SIGNUP, False, {**GOOD_SIGNUP, "email": "not-an-email"}, "email"),
    (SIGNUP, False, {**GOOD_SIGNUP, "phone": 9779801234567}, "phone"),
    (SIGNUP, False, {**GOOD_SIGNUP, "phone": "9801234567"}, "phone"),
    (SIGNUP, False, {**GOOD_SIGNUP, "date_of_birth": 19950414}, "date_of_birth"),
    (SIGNUP, False, {**GOOD_SIGNUP, "date_of_birth": "14/04/1995"}, "date_of_birth"),
    (SIGNUP, False, {**GOOD_SIGNUP, "country": "Nepal"}, "country"),
    (SIGNUP, False, {**GOOD_SIGNUP, "country": None}, "country"),
    (LOGIN, False, {"identifier": ["victim"], "password": TEST_PASSWORD}, "identifier"),
    (LOGIN, False, {"identifier": "victim", "password": None}, "password"),
    (REFRESH, False, {"refresh": 12345}, None),
    (ME, True, {"bio": {"text": "hi"}}, "bio"),
    (ME, True, {"display_name": None}, "display_name"),
    (ME, True, {"date_of_birth": None}, "date_of_birth"),
    (ME, True, {"country": "np"}, "country"),
    (ME, True, {"avatar": "https://example.com/me.png"}, "avatar"),
    (ME, True, {"email": 5}, "email"),
    (PASSWORD, True, {"old_password": TEST_PASSWORD, "new_password": False}, "new_password"),
]


@pytest.mark.parametrize("url,authenticated,body,field", WRONG_TYPES)
def test_wrong_types_and_formats_are_refused_per_field(session, url, authenticated, body, field):
    client = client_for(authenticated, session)
    method = "patch" if url == ME else "post"
    before = db_snapshot()
    response = getattr(client, method)(url, body, format="json")
    if field is None:  # a number is read as a (wrong) token string
        assert_error(response, 401, "token_invalid")
    else:
        assert field in assert_error(response, 400, "invalid")["details"]
    assert_nothing_written(before)


OVERSIZED = [
    (SIGNUP, False, {**GOOD_SIGNUP, "username": "a" * 10_000}, "username"),
    (SIGNUP, False, {**GOOD_SIGNUP, "password": "Zq9!" * 33}, "password"),
    (SIGNUP, False, {**GOOD_SIGNUP, "email": "a" * 250 + "@example.com"}, "email"),
    (SIGNUP, False, {**GOOD_SIGNUP, "display_name": "d" * 51}, "display_name"),
    (SIGNUP, False, {**GOOD_SIGNUP, "phone": "+977" + "9" * 30}, "phone"),
    (LOGIN, False, {"identifier": "i" * 255, "password": TEST_PASSWORD}, "identifier"),
    (LOGIN, False, {"identifier": "victim", "password": "p" * 129}, "password"),
    (REFRESH, False, {"refresh": "r" * 2001}, "refresh"),
    (ME, True, {"bio": "b" * 301}, "bio"),
    (ME, True, {"display_name": "🙂" * 51}, "display_name"),
    (PASSWORD, True, {"old_password": TEST_PASSWORD, "new_password": "n" * 129}, "new_password"),
]


@pytest.mark.parametrize("url,authenticated,body,field", OVERSIZED)
def test_oversized_strings_are_refused(session, url, authenticated, body, field):
    client = client_for(authenticated, session)
    method = "patch" if url == ME else "post"
    before = db_snapshot()
    response = getattr(client, method)(url, body, format="json")
    assert field in assert_error(response, 400, "invalid")["details"]
    assert_nothing_written(before)


def test_a_body_of_several_megabytes_is_refused(session):
    before = db_snapshot()
    response = APIClient().post(SIGNUP, {**GOOD_SIGNUP, "display_name": "x" * 6_000_000}, format="json")
    assert response.status_code in (400, 413)
    assert_error(response, response.status_code)
    assert_nothing_written(before)


# --- Authentication, URLs and methods ------------------------------------------------------------


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", ME),
        ("patch", ME),
        ("post", PASSWORD),
        ("post", LOGOUT),
        ("get", "/api/v1/me/blocked/"),
        ("get", "/api/v1/users/victim/"),
        ("post", "/api/v1/users/victim/follow/"),
        ("delete", "/api/v1/users/victim/follow/"),
        ("post", "/api/v1/users/victim/block/"),
        ("get", "/api/v1/users/victim/followers/"),
    ],
)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-jwt", "Bearer ", "Token whatever", "Basic dmljdGltOnB3"],
    ids=["none", "garbage", "empty-bearer", "other-scheme", "basic"],
)
def test_unauthenticated_requests_are_401(session, method, url, authorization):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    before = db_snapshot()
    response = getattr(client, method)(url, {}, format="json")
    assert_error(response, 401)
    assert response.has_header("WWW-Authenticate")
    assert_nothing_written(before)


def test_an_access_token_of_a_deleted_user_is_401(session, victim):
    client = client_for(True, session)
    victim.delete()
    assert_error(client.get(ME), 401)


@pytest.mark.parametrize(
    "url",
    ["/api/v1/nope/", "/api/v1/users/victim/nope/", "/api/v2/me/", "/api/", "/api/v1/auth/", "/api/v1/me/x/"],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_urls_under_api_are_404_json(session, url, method):
    client = client_for(True, session)
    before = db_snapshot()
    response = getattr(client, method)(url, {"a": 1}, format="json")
    assert_error(response, 404, "not_found")
    assert_nothing_written(before)


@pytest.mark.parametrize(
    "method,url,authenticated",
    [
        ("get", SIGNUP, False),
        ("put", SIGNUP, False),
        ("get", LOGIN, False),
        ("delete", LOGIN, False),
        ("get", REFRESH, False),
        ("get", LOGOUT, True),
        ("put", ME, True),
        ("delete", ME, True),
        ("post", ME, True),
        ("get", PASSWORD, True),
        ("get", "/api/v1/users/victim/follow/", True),
        ("patch", "/api/v1/users/victim/block/", True),
        ("post", "/api/v1/me/blocked/", True),
    ],
)
def test_methods_an_endpoint_does_not_have_are_405(session, method, url, authenticated):
    client = client_for(authenticated, session)
    before = db_snapshot()
    response = getattr(client, method)(url, {"display_name": "x"}, format="json")
    assert_error(response, 405, "method_not_allowed")
    assert_nothing_written(before)
