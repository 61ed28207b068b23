"""Every list the server paginates is declared as the cursor envelope it really answers."""

import pytest

from tests.core.test_schema import generate

# The lists a user reads about themselves (no path parameter to invent).
PAGINATED_LISTS = [
    "/api/v1/wallet/history/",
    "/api/v1/wallet/cashouts/",
    "/api/v1/payments/",
    "/api/v1/games/rounds/",
    "/api/v1/reels/mine/",
    "/api/v1/moderation/enforcements/",
    "/api/v1/me/blocked/",
]


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _ok_schema(schema: dict, path: str) -> dict:
    content = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return _resolve(schema, content["schema"])


@pytest.fixture(scope="module")
def schema():
    built, problems = generate()
    assert problems == []
    return built


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGINATED_LISTS)
def test_a_paginated_list_is_declared_as_the_envelope_the_server_answers(schema, path, auth_client, user):
    # when the list is read
    response = auth_client(user).get(path)

    # then the server answers the cursor envelope, and the schema declares exactly that
    assert response.status_code == 200
    assert set(response.json()) == {"next", "previous", "results"}
    declared = _ok_schema(schema, path)
    assert declared["type"] == "object", declared
    assert set(declared["properties"]) == {"next", "previous", "results"}
    assert declared["properties"]["results"]["type"] == "array"
    assert {p["name"] for p in schema["paths"][path]["get"]["parameters"]} >= {"cursor", "page_size"}

    # and a cursor the server cannot read is the documented 404
    broken = auth_client(user).get(path, {"cursor": "not-a-cursor"})
    assert broken.status_code == 404 and broken.json()["code"] == "not_found"
    documented = schema["paths"][path]["get"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert "not_found" in documented["allOf"][1]["properties"]["code"]["enum"]


def test_every_list_of_rows_is_paginated_or_a_documented_whole_catalogue(schema):
    """A bare array is only for a small fixed catalogue, and its description says so."""
    bare = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                body = response.get("content", {}).get("application/json", {}).get("schema", {})
                if body.get("type") == "array" and "whole catalogue" not in operation.get("description", ""):
                    bare.append(f"{method.upper()} {path} {code}")
    assert bare == []
