"""The room contract (apps/live/asyncapi.yaml) as the tests hold the server to it.

Every frame a room test receives goes through `room_frame_check` (tests/live/wsclient.py, the
embedded end-to-end test and the browser test call it): its type must be a message the server
declares it sends, its body must match that message's schema, and its times must be UTC with Z.
The published schemas stay open to fields added later (clients ignore what they do not know);
here every object is closed, so a field the server sends without documenting it fails the test.
"""

import copy
import functools
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker

from tests.timestamps import assert_utc_timestamps

DOCUMENT = Path(__file__).resolve().parents[2] / "apps" / "live" / "asyncapi.yaml"

# Frame types seen per session, for the summary at the end of the run (tests/live/conftest.py).
observed: Counter[str] = Counter()


def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text())


def pointer_get(doc: dict[str, Any], ref: str) -> Any:
    """The target of a local `#/a/b` reference (KeyError when it points nowhere)."""
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def inlined(node: Any, doc: dict[str, Any]) -> Any:
    """`node` with every local $ref replaced by (a copy of) its target; the document has no cycles."""
    if isinstance(node, dict):
        if "$ref" in node:
            return inlined(copy.deepcopy(pointer_get(doc, node["$ref"])), doc)
        return {key: inlined(value, doc) for key, value in node.items()}
    if isinstance(node, list):
        return [inlined(item, doc) for item in node]
    return node


def closed(schema: Any) -> Any:
    """`schema` with every object that lists its properties refusing other ones."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def operation_messages(doc: dict[str, Any], action: str) -> dict[str, dict[str, Any]]:
    """The messages of the operations with this action (`send`: server to client), by event type."""
    found = {}
    for operation in doc["operations"].values():
        if operation["action"] == action:
            for ref in operation["messages"]:
                message = inlined(pointer_get(doc, ref["$ref"]), doc)
                found[message["name"]] = message
    return found


class RoomContract:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.server_messages = operation_messages(doc, "send")
        self.client_messages = operation_messages(doc, "receive")
        self.validators = {
            name: Draft7Validator(closed(message["payload"]), format_checker=FormatChecker())
            for name, message in self.server_messages.items()
        }

    def problems(self, frame: Any) -> list[str]:
        """What is wrong with a frame the server sent (empty: it keeps the contract)."""
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            return [f"not an event object: {frame!r}"]
        validator = self.validators.get(frame["type"])
        if validator is None:
            return [f"undeclared server event {frame['type']!r}"]
        return [
            f"{frame['type']} at {'/'.join(map(str, error.absolute_path)) or '(frame)'}: {error.message}"
            for error in validator.iter_errors(frame)
        ]


@functools.cache
def room_contract() -> RoomContract:
    return RoomContract(document())


def room_frame_check(frame: Any) -> None:
    """Fail the test on a frame the AsyncAPI document does not declare or describe."""
    problems = room_contract().problems(frame)
    assert not problems, f"room frame breaks apps/live/asyncapi.yaml: {problems}\nframe: {frame!r}"
    assert_utc_timestamps(frame, f"room frame {frame['type']}")
    observed[frame["type"]] += 1
