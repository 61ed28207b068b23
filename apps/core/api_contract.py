"""The committed API contract (docs/api/openapi.json) and what may change in it (README, "API versioning").

/api/v1/ changes only by additions. Something is removed in two steps: first marked deprecated in
the schema (`deprecated: true` on an operation, parameter or field; `x-deprecated-values` listing
enum values being retired) and answered with `Deprecation`/`Sunset` headers (apps.core.deprecation),
then, once committed so, removed. `removals` finds what the new schema drops that the committed one
had not deprecated.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

CONTRACT_PATH = Path(settings.BASE_DIR) / "docs" / "api" / "openapi.json"
_MAX_DEPTH = 8  # nested objects deeper than this are not compared (recursive schemas stop here)


def current_schema() -> dict[str, Any]:
    """The public schema as /api/schema/ serves it, as plain JSON data."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(schema, default=str))


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in node and seen < _MAX_DEPTH:
        node = schema["components"]["schemas"].get(node["$ref"].rsplit("/", 1)[1], {})
        seen += 1
    return node


def _fields(schema: dict[str, Any], node: dict[str, Any], where: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every field path under a body schema with what it carries: ("field", deprecated) or
    ("enum", (values, deprecated values))."""
    if depth > _MAX_DEPTH:
        return
    node = _resolve(schema, node)
    if "enum" in node:
        yield f"{where} enum", ("enum", (set(node["enum"]), set(node.get("x-deprecated-values", []))))
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in node.get(key) or []:
            yield from _fields(schema, sub, where, depth + 1)
    if isinstance(node.get("items"), dict):
        yield from _fields(schema, node["items"], f"{where}[]", depth + 1)
    for name, sub in (node.get("properties") or {}).items():
        yield f"{where}.{name}", ("field", bool(_resolve(schema, sub).get("deprecated") or sub.get("deprecated")))
        yield from _fields(schema, sub, f"{where}.{name}", depth + 1)


def _surface(schema: dict[str, Any]) -> dict[str, Any]:
    """Everything a client may rely on, by a stable name: operations, parameters, body fields, enums."""
    found: dict[str, Any] = {}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            deprecated = bool(operation.get("deprecated"))
            found[name] = ("operation", deprecated)
            for parameter in operation.get("parameters", []):
                found[f"{name} {parameter['in']} parameter {parameter['name']}"] = (
                    "parameter",
                    deprecated or bool(parameter.get("deprecated")),
                )
                found.update(_fields(schema, parameter.get("schema", {}), f"{name} parameter {parameter['name']}"))
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [(f"response {status}", body) for status, body in operation.get("responses", {}).items()]
            for label, body in bodies:
                for media, content in body.get("content", {}).items():
                    for key, value in _fields(schema, content.get("schema", {}), f"{name} {label} {media}"):
                        kind, detail = value
                        found[key] = (kind, detail if kind == "enum" else (deprecated or detail))
    return found


def removals(committed: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What `new` drops of `committed` that `committed` had not marked deprecated."""
    old_surface, new_surface = _surface(committed), _surface(new)
    problems = []
    for key, (kind, detail) in sorted(old_surface.items()):
        if kind == "enum":
            values, retiring = detail
            kept = new_surface.get(key, ("enum", (set(), set())))[1][0] if key in new_surface else set()
            dropped = sorted(str(value) for value in values - kept - retiring)
            if key in new_surface and dropped:
                problems.append(f"{key}: value(s) {', '.join(dropped)} removed without deprecation")
            continue
        if key not in new_surface and not detail:
            problems.append(f"{key}: {kind} removed without deprecation")
    return problems


def committed_schema() -> dict[str, Any] | None:
    if not CONTRACT_PATH.exists():
        return None
    return json.loads(CONTRACT_PATH.read_text())
