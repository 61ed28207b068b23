"""The room contract, apps/live/asyncapi.yaml: a valid AsyncAPI 3.0 document that agrees with the
consumer, with PROTOCOL.md and with its own examples, served beside the OpenAPI docs; and the
checker every room test's frames go through (tests/live/room_contract.py) refuses what breaks it."""

import hashlib
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker

from apps.live.consumers import CLOSE_CODES, StreamRoomConsumer
from tests.live.room_contract import (
    DOCUMENT,
    RoomContract,
    closed,
    document,
    inlined,
    pointer_get,
    room_contract,
    room_frame_check,
)

SPEC = Path(__file__).with_name("asyncapi_spec") / "asyncapi-3.0.0.schema.json"
SPEC_SHA256 = "abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f"  # @asyncapi/specs 6.11.1
PROTOCOL_MD = DOCUMENT.with_name("PROTOCOL.md")


def spec_validator() -> Draft7Validator:
    raw = SPEC.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SPEC_SHA256, "the vendored AsyncAPI schema was changed"
    return Draft7Validator(json.loads(raw))


def spec_errors(doc: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in spec_validator().iter_errors(doc)]


def refs_in(node) -> list[str]:
    if isinstance(node, dict):
        return [*([node["$ref"]] if "$ref" in node else []), *(r for v in node.values() for r in refs_in(v))]
    if isinstance(node, list):
        return [r for item in node for r in refs_in(item)]
    return []


def protocol_md_events() -> dict[str, set[str]]:
    """The event types in the first column of PROTOCOL.md's two tables of events."""
    sections = {"## Client → server": "client", "## Server → client": "server"}
    found: dict[str, set[str]] = {"client": set(), "server": set()}
    current = None
    for line in PROTOCOL_MD.read_text().splitlines():
        if line.startswith("## "):
            current = sections.get(line.strip())
        elif current and line.startswith("| `"):
            found[current] |= set(re.findall(r"`([a-z_.]+)`", line.split("|")[1]))
    return found


def protocol_md_close_codes() -> set[int]:
    return {int(code) for code in re.findall(r"^\| (\d{4}) \|", PROTOCOL_MD.read_text(), re.MULTILINE)}


# --- The document itself ----------------------------------------------------------------------


def test_the_document_is_valid_asyncapi_3_0():
    # the official JSON Schema of AsyncAPI 3.0.0 documents (vendored, see asyncapi_spec/README.md)
    assert document()["asyncapi"] == "3.0.0"
    assert spec_errors(document()) == []


def test_the_validation_catches_a_broken_document():
    # given the document with mistakes of the kind an edit makes (an AsyncAPI 2 action, a typo'd field)
    broken = document()
    broken["operations"]["receivePing"]["action"] = "publish"
    broken["channels"]["streamRoom"]["adress"] = "/ws/streams/{streamId}/"
    # then both are reported
    errors = "\n".join(spec_errors(broken))
    assert "operations/receivePing" in errors and "channels/streamRoom" in errors


def test_every_reference_resolves_and_every_message_is_used():
    doc = document()
    for ref in refs_in(doc):
        pointer_get(doc, ref)  # KeyError when it points nowhere
    channel_messages = {f"#/channels/streamRoom/messages/{name}" for name in doc["channels"]["streamRoom"]["messages"]}
    used = [ref["$ref"] for op in doc["operations"].values() for ref in op["messages"]]
    assert sorted(used) == sorted(channel_messages), "each channel message belongs to exactly one operation"
    assert set(doc["components"]["messages"]) == {
        ref["$ref"].rsplit("/", 1)[1] for ref in doc["channels"]["streamRoom"]["messages"].values()
    }


def test_each_message_is_named_by_its_event_type():
    doc = document()
    for key, message in doc["components"]["messages"].items():
        payload = inlined(message["payload"], doc)
        assert payload["properties"]["type"] == {"const": message["name"]}, key
        assert payload["required"][0] == "type", key


def test_the_examples_keep_the_contract():
    doc = document()
    examples = 0
    for key, message in doc["components"]["messages"].items():
        validator = Draft7Validator(closed(inlined(message["payload"], doc)), format_checker=FormatChecker())
        for example in message.get("examples", []):
            assert list(validator.iter_errors(example["payload"])) == [], key
            examples += 1
    assert examples >= 4


# --- In step with the code and PROTOCOL.md ----------------------------------------------------


def test_the_client_messages_are_what_the_consumer_handles():
    assert set(room_contract().client_messages) == set(StreamRoomConsumer.HANDLERS)


def test_the_close_codes_are_the_consumers_and_protocol_mds():
    documented = document()["channels"]["streamRoom"]["x-close-codes"]
    by_code = {entry["code"]: set(entry["codes"]) for entry in documented}
    # every error code or reason the consumer closes for, with the same close code; 4000 for the rest
    assert {name: code for code, names in by_code.items() for name in names} == CLOSE_CODES
    assert 4000 in by_code
    assert set(by_code) == protocol_md_close_codes()


def test_protocol_md_and_the_asyncapi_name_the_same_events():
    named = protocol_md_events()
    assert named["client"] == set(room_contract().client_messages)
    assert named["server"] == set(room_contract().server_messages)


# --- Served beside the OpenAPI docs ------------------------------------------------------------


@pytest.mark.django_db
def test_the_document_is_served_beside_the_openapi_docs_and_linked_from_them(client):
    served = client.get("/api/asyncapi.yaml")
    assert served.status_code == 200
    assert served["Content-Type"] == "application/yaml; charset=utf-8"
    assert served.content == DOCUMENT.read_bytes()
    # the OpenAPI document (which the docs page renders) links it
    openapi = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert openapi["externalDocs"]["url"] == "/api/asyncapi.yaml"
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_only_reading_the_document_is_allowed(client):
    response = client.post("/api/asyncapi.yaml")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


# --- The checker the room tests use ------------------------------------------------------------

CHAT = {
    "type": "chat.message",
    "payload": {
        "id": "0123456789abcdef",
        "user": {"id": 4, "username": "sita", "display_name": "Sita", "avatar": None, "role": "viewer"},
        "text": "namaste",
        "sent_at": "2026-03-01T20:30:15.123Z",
    },
}


def with_payload(**changes) -> dict:
    return {"type": CHAT["type"], "payload": {**CHAT["payload"], **changes}}


def test_the_checker_takes_a_frame_that_keeps_the_contract():
    assert RoomContract(document()).problems(CHAT) == []


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ({"type": "chat.shout", "payload": {}}, "undeclared server event 'chat.shout'"),
        ({"type": "chat.send", "payload": {"text": "hi"}}, "undeclared server event 'chat.send'"),  # client's
        ({"payload": {}}, "not an event object"),
        ({"type": "chat.message", "payload": {"id": "0123456789abcdef"}}, "'user' is a required property"),
        (with_payload(mood="happy"), "Additional properties are not allowed ('mood' was unexpected)"),
        (with_payload(text=5), "5 is not of type 'string'"),
        (with_payload(sent_at="2026-03-02T02:15:15.123+05:45"), "does not match"),
        (with_payload(sent_at="2026-03-01T20:30:15.123456+00:00"), "does not match"),
    ],
)
def test_the_checker_refuses_a_frame_that_breaks_the_contract(frame, problem):
    problems = RoomContract(document()).problems(frame)
    assert any(problem in p for p in problems), problems
    with pytest.raises(AssertionError, match="breaks apps/live/asyncapi.yaml"):
        room_frame_check(frame)


def test_the_checker_refuses_an_off_format_time_the_schema_leaves_open():
    # error details are free-form: the time format is still checked there
    frame = {
        "type": "error",
        "payload": {"code": "chat_refused", "message": "No.", "details": {"muted_until": "2026-03-02T02:15:15+05:45"}},
    }
    assert RoomContract(document()).problems(frame) == []
    with pytest.raises(AssertionError, match="not in UTC with Z"):
        room_frame_check(frame)
