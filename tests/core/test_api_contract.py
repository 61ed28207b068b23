"""The committed contract (docs/api/openapi.json) is current, and nothing leaves it without a deprecation first."""

import copy

import pytest
from django.core.management import CommandError, call_command

from apps.core import api_contract
from apps.core.management.commands import api_contract as command


@pytest.fixture(scope="module")
def schema():
    return api_contract.current_schema()


def test_the_committed_contract_is_the_current_schema(capsys):
    # fails when a branch changed the API without `manage.py api_contract write`
    call_command("api_contract", "check")
    assert "current" in capsys.readouterr().out


def test_removing_an_operation_a_parameter_a_field_or_an_enum_value_is_found(schema):
    new = copy.deepcopy(schema)
    # an operation, a query parameter, a response field and an enum value disappear
    del new["paths"]["/api/v1/wallet/"]["get"]
    history = new["paths"]["/api/v1/wallet/history/"]["get"]
    history["parameters"] = [p for p in history["parameters"] if p["name"] != "kind"]
    del new["components"]["schemas"]["Cashout"]["properties"]["review_note"]
    gateway = new["components"]["schemas"]["GatewayEnum"]
    gateway["enum"] = gateway["enum"][1:]

    problems = "\n".join(api_contract.removals(schema, new))

    assert "GET /api/v1/wallet/: operation removed" in problems
    assert "GET /api/v1/wallet/history/ query parameter kind: parameter removed" in problems
    assert "GET /api/v1/wallet/cashouts/ response 200 application/json.results[].review_note: field removed" in problems
    assert f"value(s) {schema['components']['schemas']['GatewayEnum']['enum'][0]} removed" in problems
    assert api_contract.removals(schema, schema) == []


def test_what_was_deprecated_first_may_be_removed(schema):
    committed = copy.deepcopy(schema)
    committed["paths"]["/api/v1/wallet/"]["get"]["deprecated"] = True
    committed["components"]["schemas"]["Cashout"]["properties"]["review_note"]["deprecated"] = True
    gateway = committed["components"]["schemas"]["GatewayEnum"]
    gateway["x-deprecated-values"] = [gateway["enum"][0]]
    new = copy.deepcopy(schema)
    del new["paths"]["/api/v1/wallet/"]["get"]
    del new["components"]["schemas"]["Cashout"]["properties"]["review_note"]
    new["components"]["schemas"]["GatewayEnum"]["enum"] = gateway["enum"][1:]

    assert api_contract.removals(committed, new) == []


def test_check_and_write_refuse_a_removal_without_deprecation(schema, monkeypatch):
    # given a committed contract with an operation the code no longer has
    committed = copy.deepcopy(schema)
    committed["paths"]["/api/v1/retired/"] = {"get": copy.deepcopy(schema["paths"]["/api/v1/wallet/"]["get"])}
    monkeypatch.setattr(command, "committed_schema", lambda: committed)
    written = []
    monkeypatch.setattr(command.CONTRACT_PATH.__class__, "write_text", lambda path, text: written.append(text))

    for action in ("check", "write"):
        with pytest.raises(CommandError, match="GET /api/v1/retired/: operation removed without deprecation"):
            call_command("api_contract", action)
    assert written == []
