"""A Python client generated from the OpenAPI schema by openapi-python-client, imported, and a
check that what it parsed really has the types its models declare.

openapi-python-client's models do not check types when they parse (a string field takes an integer),
while the phone apps' generated Kotlin and Swift models refuse a wrong type: `assert_typed` holds the
parsed model to its declared types, so this client fails where theirs would.
"""

import datetime
import enum
import importlib
import importlib.util
import json
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import attrs

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# No post hooks: the generator would run ruff on the output, which only reformats it. It reads no
# `video/*` body (the reel video, binary) nor a PDF answer (a host's statement): as a phone team
# would, map them to raw bytes.
GENERATOR_CONFIG = (
    "post_hooks: []\ncontent_type_overrides:\n  video/*: application/octet-stream\n"
    "  application/pdf: application/octet-stream\n"
)


def client_generate(schema: dict, directory: Path, package: str) -> types.ModuleType:
    """Generate a client package named `package` from `schema` under `directory` and import it."""
    directory.mkdir(parents=True, exist_ok=True)
    schema_path = directory / f"{package}.json"
    schema_path.write_text(json.dumps(schema))
    config = directory / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    output = directory / package
    subprocess.run(
        [str(GENERATOR), "generate", "--path", str(schema_path), "--output-path", str(output)]
        + ["--meta", "none", "--config", str(config), "--overwrite"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    _import_unset_where_used(output)
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    importlib.invalidate_caches()
    return importlib.import_module(package)


def _import_unset_where_used(output: Path) -> None:
    """openapi-python-client 0.29.1 types a required body offered in several media types as
    `... | Unset` without importing Unset, so the module fails to import (a generator bug: the
    schema is valid). Add the missing name to the import the module already has, nothing else."""
    for module in output.glob("api/*/*.py"):
        text = module.read_text()
        if "| Unset" in text and "from ...types import Response, UNSET\n" in text:
            module.write_text(
                text.replace("from ...types import Response, UNSET\n", "from ...types import Response, UNSET, Unset\n")
            )


def operation_module(package: types.ModuleType, operation_id: str) -> types.ModuleType:
    """The generated module of one operation (api/<tag>/<operation id>.py, whatever the tag)."""
    found = sorted(Path(package.__path__[0], "api").glob(f"*/{operation_id}.py"))
    assert len(found) == 1, f"the generated client has {len(found)} modules for {operation_id}"
    return importlib.import_module(f"{package.__name__}.api.{found[0].parent.name}.{operation_id}")


def _hints(cls: type) -> dict[str, Any]:
    package = cls.__module__.split(".")[0]
    namespace = {
        **vars(importlib.import_module(f"{package}.models")),
        **vars(importlib.import_module(f"{package}.types")),
    }
    namespace.update(datetime=datetime)
    return typing.get_type_hints(cls, localns=namespace)


def type_problems(value: Any, expected: Any, where: str) -> list[str]:
    """Where `value` is not of the type `expected` (a generated model's annotation)."""
    origin = typing.get_origin(expected)
    if expected is Any:
        return []
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(expected)
        for option in options:
            if not type_problems(value, option, where):
                return []
        return [f"{where}: {value!r} is none of {options}"]
    if expected is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        (item,) = typing.get_args(expected) or (Any,)
        return [problem for i, one in enumerate(value) for problem in type_problems(one, item, f"{where}[{i}]")]
    if origin is dict or expected is dict:
        return [] if isinstance(value, dict) else [f"{where}: {value!r} is not an object"]
    if isinstance(expected, type) and attrs.has(expected):
        return (
            model_problems(value, where) if isinstance(value, expected) else [f"{where}: {value!r} is not a {expected}"]
        )
    if expected is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a number"]
    if expected is int and isinstance(value, bool):
        return [f"{where}: {value!r} is a boolean, not an integer"]
    if expected is datetime.date and isinstance(value, datetime.datetime):
        return [f"{where}: {value!r} is a date-time, not a date"]
    if isinstance(expected, type) and (issubclass(expected, enum.Enum) or expected.__module__ != "builtins"):
        return [] if isinstance(value, expected) else [f"{where}: {value!r} is not a {expected.__name__}"]
    if isinstance(expected, type):
        return [] if isinstance(value, expected) else [f"{where}: {value!r} is not a {expected.__name__}"]
    return []


def model_problems(model: Any, where: str = "response") -> list[str]:
    """Each field of a parsed model against its declared type, recursively, and fields the server
    sent that the schema does not declare (the schema must tell the whole truth)."""
    cls = type(model)
    hints = _hints(cls)
    declared = [field.name for field in attrs.fields(cls) if field.name != "additional_properties"]
    problems = []
    for name in declared:
        problems += type_problems(getattr(model, name), hints[name], f"{where}.{name}")
    extra = getattr(model, "additional_properties", {})
    if declared and extra:
        problems.append(f"{where}: fields the schema does not declare: {sorted(extra)}")
    return problems


def assert_typed(parsed: Any, where: str) -> None:
    if type(parsed).__module__.endswith(".types"):
        return  # the client's own File (a binary body as bytes), no model of the schema
    if isinstance(parsed, list):
        problems = [
            p for i, item in enumerate(parsed) if attrs.has(type(item)) for p in model_problems(item, f"{where}[{i}]")
        ]
    elif attrs.has(type(parsed)):
        problems = model_problems(parsed, where)
    else:
        problems = []
    assert not problems, "\n".join(problems)
