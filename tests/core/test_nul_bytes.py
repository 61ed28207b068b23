"""A NUL character anywhere in a request (path, query, body) is refused at the edge with 400
`invalid_characters`: PostgreSQL cannot store or compare text holding one, and a lookup with it
used to answer 500."""

import re

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.core.errors import assert_error, assert_nothing_written, db_snapshot

USER_OPERATIONS = [
    ("get", "/api/v1/users/vie%00wer/"),
    ("post", "/api/v1/users/vie%00wer/follow/"),
    ("delete", "/api/v1/users/vie%00wer/follow/"),
    ("post", "/api/v1/users/vie%00wer/block/"),
    ("delete", "/api/v1/users/vie%00wer/block/"),
    ("get", "/api/v1/users/vie%00wer/followers/"),
    ("get", "/api/v1/users/vie%00wer/following/"),
]

PAGES = [
    "/payments/result/ab%00cd/",
    "/payments/esewa/ab%00cd/",
    "/payments/callback/khalti/?pidx=a%00b",
    "/payments/callback/esewa/failure/?ref=a%00b",
    "/payments/callback/esewa/success/?data=a%00b",
]


def assert_invalid_characters(response) -> None:
    body = assert_error(response, 400, "invalid_characters")
    assert "NUL" in body["message"], body


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), USER_OPERATIONS)
def test_every_user_operation_refuses_a_nul_in_the_username(auth_client, user, method, url):
    client = auth_client(user)
    before = db_snapshot()
    assert_invalid_characters(getattr(client, method)(url))
    assert_nothing_written(before)


@pytest.mark.django_db
def test_wallet_history_refuses_a_nul_in_the_query(auth_client, user):
    assert_invalid_characters(auth_client(user).get("/api/v1/wallet/history/?kind=%00"))


@pytest.mark.django_db
def test_a_nul_in_a_query_parameter_name_is_refused(auth_client, user):
    assert_invalid_characters(auth_client(user).get("/api/v1/wallet/history/?ki%00nd=credit"))


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_payment_pages_refuse_a_nul_without_signing_in(url):
    # The pages are HTML, but the refusal is a 400 (in the one error shape) before any lookup.
    assert_invalid_characters(Client().get(url))


@pytest.mark.django_db
def test_a_nul_in_a_json_body_value_or_key_is_refused_before_the_view(user):
    client = APIClient()
    before = db_snapshot()
    for body in (
        '{"identifier": "a\\u0000b", "password": "x"}',
        '{"identi\\u0000fier": "ab", "password": "x"}',
        '{"identifier": "ab", "password": ["x", {"deep": "\\u0000"}]}',
    ):
        response = client.post("/api/v1/auth/login/", body, content_type="application/json")
        assert_invalid_characters(response)
    assert_nothing_written(before)


@pytest.mark.django_db
def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(user):
    # "\\u0000" in JSON is a backslash followed by "u0000": six printable characters.
    response = APIClient().post(
        "/api/v1/auth/login/", '{"identifier": "a\\\\u0000b", "password": "x"}', content_type="application/json"
    )
    assert_error(response, 401, "invalid_credentials")


@pytest.mark.django_db
def test_a_nul_in_a_form_body_is_refused(user):
    response = Client().post(
        "/api/v1/auth/login/", "identifier=a%00b&password=x", content_type="application/x-www-form-urlencoded"
    )
    assert_invalid_characters(response)


@pytest.mark.django_db
def test_a_nul_in_a_multipart_field_value_or_name_is_refused(auth_client, user):
    client = auth_client(user)
    before = db_snapshot()
    assert_invalid_characters(client.patch("/api/v1/me/", {"bio": "hi\x00there"}, format="multipart"))
    assert_invalid_characters(client.patch("/api/v1/me/", {"b\x00io": "hi"}, format="multipart"))
    assert_nothing_written(before)


def _get_operations_with_path_parameters() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        path for path, operations in schema["paths"].items() if "get" in operations and re.search(r"\{\w+\}", path)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", _get_operations_with_path_parameters())
def test_every_get_operation_refuses_a_nul_path_parameter(auth_client, user, path):
    url = re.sub(r"\{\w+\}", "a%00b", path)
    assert_invalid_characters(auth_client(user).get(url))
