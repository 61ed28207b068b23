"""Calls operations through the generated client and checks each answer against the schema: the
status is one the operation documents, and a documented body was parsed into its typed model."""

import enum
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.accounts.services import tokens_issue
from tests.contract.generated import assert_typed, operation_module

METHODS = ("get", "post", "put", "patch", "delete")


def schema_operations(schema: dict) -> dict[str, dict]:
    """Every operation of the schema by its operation id, with its method and path."""
    found = {}
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                found[item[method]["operationId"]] = {**item[method], "method": method, "path": path}
    return found


def requires_token(operation: dict) -> bool:
    security = operation.get("security", [])
    return bool(security) and {} not in security


@dataclass
class Call:
    operation_id: str
    status: int
    kwargs: dict[str, Any]


@dataclass
class Contract:
    """The generated client against the live server; `calls` is what was driven."""

    package: types.ModuleType
    schema: dict
    base_url: str
    workdir: Path
    calls: list[Call] = field(default_factory=list)

    def anonymous(self) -> Any:
        return self.package.Client(base_url=self.base_url, raise_on_unexpected_status=True, timeout=30)

    def as_user(self, user) -> Any:
        token = tokens_issue(user=user)["access"]
        return self.package.AuthenticatedClient(
            base_url=self.base_url, token=token, raise_on_unexpected_status=True, timeout=30
        )

    def model(self, name: str) -> Any:
        return getattr(self.package.models, name)

    def model_of(self, operation_id: str) -> Any:
        """The operation's request body model class."""
        annotation = operation_module(self.package, operation_id).sync_detailed.__annotations__["body"]
        options = typing.get_args(annotation) or (annotation,)
        return next(option for option in options if hasattr(option, "from_dict"))

    def body(self, operation_id: str, data: dict) -> Any:
        """The operation's request body model built from plain data, as an app would fill it."""
        return self.model_of(operation_id).from_dict(data)

    def arg(self, operation_id: str, name: str, value: Any) -> Any:
        """A value for the operation's parameter `name` in the type the client declares for it
        (an enumerated parameter takes its generated Enum, whatever the generator named it)."""
        annotation = operation_module(self.package, operation_id).sync_detailed.__annotations__[name]
        for option in typing.get_args(annotation) or (annotation,):
            if isinstance(option, type) and issubclass(option, enum.Enum):
                return option(value)
        return value

    def call(self, operation_id: str, client: Any, *, status: int, code: str | None = None, **kwargs: Any) -> Any:
        """Call the operation; the answer must have `status` (and error `code`), be documented, and
        parse into the typed model the schema names for it. Returns what the client parsed."""
        operation = schema_operations(self.schema)[operation_id]
        try:
            response = operation_module(self.package, operation_id).sync_detailed(client=client, **kwargs)
        except self.package.errors.UnexpectedStatus as undocumented:
            raise AssertionError(
                f"{operation_id} answered {undocumented.status_code}, which its schema does not document "
                f"(expected {status}): {undocumented.content[:300]!r}"
            ) from None
        where = f"{operation_id} {response.status_code}"
        assert response.status_code == status, f"{where}: expected {status}: {response.content[:500]!r}"
        self.calls.append(Call(operation_id, status, kwargs))
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{where} is not documented"
        if documented.get("content"):
            assert response.parsed is not None, f"{where}: the client did not parse the body"
            assert_typed(response.parsed, where)
        if code is not None:
            answered = getattr(response.parsed, "code", None)
            answered = getattr(answered, "value", answered)  # an enumerated code parses into an Enum
            assert answered == code, f"{where}: {response.content[:300]!r}"
        return response.parsed

    def call_any(self, operation_id: str, client: Any, *, statuses: tuple[int, ...], **kwargs: Any) -> int:
        """Call the operation expecting one of `statuses` (checked as `call` does); returns which."""
        response = operation_module(self.package, operation_id).sync_detailed(client=client, **kwargs)
        assert response.status_code in statuses, f"{operation_id}: {response.status_code} {response.content[:300]!r}"
        self.calls.append(Call(operation_id, response.status_code, kwargs))
        documented = schema_operations(self.schema)[operation_id]["responses"].get(str(response.status_code))
        assert documented is not None and response.parsed is not None, f"{operation_id} {response.status_code}"
        assert_typed(response.parsed, f"{operation_id} {response.status_code}")
        return response.status_code

    def throttle(self, operation_id: str, **kwargs: Any) -> None:
        """Call a public operation without a token until the anonymous rate limit answers 429."""
        for _ in range(500):
            if self.call_any(operation_id, self.anonymous(), statuses=(200, 429), **kwargs) == 429:
                return
        raise AssertionError(f"{operation_id} was never throttled")

    def driven(self, operation_id: str) -> set[int]:
        return {call.status for call in self.calls if call.operation_id == operation_id}
