"""Every integer input of every operation (path, query and JSON body) has its bounds: a value past
bigint (2**70) or a negative one is a 4xx, never a 500 (`bigint out of range` in a statement)."""

import re
import uuid

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.services import tokens_issue
from apps.live.services import stream_go_live
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.gifts.factories import GiftFactory
from tests.wallet.factories import fund

OUT_OF_RANGE = [2**70, -1]
BIGINT_MAX = 2**63 - 1


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _json_body_schema(schema: dict, operation: dict) -> dict | None:
    content = (operation.get("requestBody") or {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolve(schema, content["application/json"]["schema"])


def _integer_inputs() -> list[tuple[str, str, str, str]]:
    """(method, path, where, name) of every integer input the schema declares."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    inputs = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                if parameter["schema"].get("type") == "integer":
                    inputs.append((method, path, parameter["in"], parameter["name"]))
            body = _json_body_schema(schema, operation)
            for name, prop in (body or {}).get("properties", {}).items():
                prop = _resolve(schema, prop)
                if prop.get("type") == "integer" or _resolve(schema, prop.get("items", {})).get("type") == "integer":
                    inputs.append((method, path, "body", name))
    return sorted(inputs)


def _sample(schema: dict, prop: dict, name: str, world: dict) -> object:
    """A plausible value for a field that is not under test: the world's real ids where names match."""
    prop = _resolve(schema, prop)
    if "enum" in prop:
        return next(value for value in prop["enum"] if value is not None)
    kind = prop.get("type")
    if kind == "integer":
        return world.get(name, max(int(prop.get("minimum", 1)), 1))
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "number":
        return 1
    if kind == "object":
        return {}
    return "x"


@pytest.fixture
def world(db):
    """A funded user live on a stream, and a gift: the ids a request under test may point at."""
    user = UserFactory()
    fund(user, 100_000)
    stream = stream_go_live(host=UserFactory(), title="bounds")
    gift = GiftFactory()
    return {"user": user, "stream": stream.pk, "stream_id": stream.pk, "gift": gift.pk, "gift_id": gift.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize(("method", "path", "where", "name"), _integer_inputs())
def test_an_integer_input_out_of_range_is_a_4xx(api_client, world, method, path, where, name, value):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"][path][method]
    url = path
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            filler = value if parameter["name"] == name else _sample(schema, parameter["schema"], name, world)
            url = url.replace("{" + parameter["name"] + "}", str(filler))
    query = {name: value} if where == "query" else {}
    body = None
    body_schema = _json_body_schema(schema, operation)
    if body_schema is not None:
        body = {
            field: _sample(schema, prop, field, world)
            for field, prop in body_schema.get("properties", {}).items()
            if field in body_schema.get("required", []) and not _resolve(schema, prop).get("readOnly")
        }
        if where == "body":
            items = _resolve(schema, body_schema["properties"][name]).get("type") == "array"
            body[name] = [value] if items else value
    api_client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {tokens_issue(user=world['user'])['access']}",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,  # money endpoints want one: without it the 400 hides the bounds
    )
    kwargs = {"format": "json"} if body is not None else {}
    if query:
        url = f"{url}?{'&'.join(f'{k}={v}' for k, v in query.items())}"
    response = (
        getattr(api_client, method)(url, body, **kwargs) if body is not None else getattr(api_client, method)(url)
    )

    assert 400 <= response.status_code < 500, (method, url, body, response.status_code, response.content[:300])


@pytest.mark.django_db
def test_a_gift_sent_to_a_stream_id_past_bigint_is_a_400(auth_client, world):
    # The probe's case: the send statement raised "bigint out of range".
    response = auth_client(world["user"]).post(
        "/api/v1/gifts/send/", {"stream": 2**70, "gift": world["gift"]}, format="json", HTTP_IDEMPOTENCY_KEY="bounds-1"
    )
    body = assert_error(response, 400, "invalid")
    assert "stream" in body["details"]


def test_every_integer_input_declares_its_bounds_in_the_schema():
    # The bounds are in the contract too: clients and fuzzers read minimum and maximum.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    unbounded = []
    for method, path, where, name in _integer_inputs():
        operation = schema["paths"][path][method]
        if where == "body":
            prop = _resolve(schema, _json_body_schema(schema, operation)["properties"][name])
            prop = _resolve(schema, prop.get("items", {})) if prop.get("type") == "array" else prop
        else:
            prop = next(p["schema"] for p in operation["parameters"] if p["name"] == name and p["in"] == where)
        if prop.get("maximum", BIGINT_MAX + 1) > BIGINT_MAX or prop.get("minimum", -1) < 0:
            unbounded.append((method, path, where, name, prop))
    assert unbounded == []


def test_the_sweep_covers_path_query_and_body_integers():
    wheres = {where for _, _, where, _ in _integer_inputs()}
    assert {"path", "query", "body"} <= wheres
    assert any(re.search(r"gifts/send", path) for _, path, _, _ in _integer_inputs())
