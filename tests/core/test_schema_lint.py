"""Schema lint: what a client generator needs from every operation of the published schema."""

import pytest
from django.conf import settings

from tests.core.test_schema import generate

# Keys that give a schema a type a generator can map (a `$ref`, a composition, or an enum).
TYPED = {"type", "$ref", "oneOf", "allOf", "anyOf", "enum"}
APPS = {name.split(".")[1] for name in settings.INSTALLED_APPS if name.startswith("apps.")}


@pytest.fixture(scope="module")
def schema():
    built, problems = generate()
    assert problems == []
    return built


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def _untyped(node: dict, where: str):
    """Every place under `node` whose schema names no type (a generator would make it `Any`)."""
    if not TYPED & set(node):
        yield where
    for name, sub in (node.get("properties") or {}).items():
        yield from _untyped(sub, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _untyped(node["items"], f"{where}[]")
    for key in ("allOf", "oneOf", "anyOf"):
        for index, sub in enumerate(node.get(key) or []):
            yield from _untyped(sub, f"{where}/{key}[{index}]")


def test_operation_ids_are_unique(schema):
    ids = [operation["operationId"] for _, operation in _operations(schema)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_operation_is_tagged_with_its_app(schema):
    for name, operation in _operations(schema):
        assert len(operation.get("tags", [])) == 1 and operation["tags"][0] in APPS, (name, operation.get("tags"))


def test_no_schema_is_untyped(schema):
    untyped = []
    for component, node in schema["components"]["schemas"].items():
        untyped += _untyped(node, component)
    for name, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            untyped += _untyped(parameter["schema"], f"{name} parameter {parameter['name']}")
        bodies = [("request", operation.get("requestBody", {}))] + list(operation["responses"].items())
        for label, body in bodies:
            for media, content in body.get("content", {}).items():
                untyped += _untyped(content.get("schema", {}), f"{name} {label} {media}")
    assert untyped == []


def test_the_main_flows_have_examples(schema):
    def examples(operation, where):
        return operation[where]["content"]["application/json"].get("examples", {}) if where else {}

    login = schema["paths"]["/api/v1/auth/login/"]["post"]
    assert examples(login, "requestBody")
    send = schema["paths"]["/api/v1/gifts/send/"]["post"]
    assert examples(send, "requestBody")
    assert send["responses"]["201"]["content"]["application/json"]["examples"]
    # every documented error has an example per code
    for name, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and "content" in response:
                content = response["content"]["application/json"]
                enum = content["schema"]["allOf"][1]["properties"]["code"]["enum"]
                assert set(content["examples"]) == set(enum), (name, status)
