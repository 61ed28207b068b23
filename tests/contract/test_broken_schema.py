"""A schema that lies breaks the generated client, and so this suite: a copy of the served schema is
mutated, a client generated from it, and the operation it describes no longer parses."""

import copy

import pytest

from tests.accounts.factories import UserFactory
from tests.contract.generated import client_generate
from tests.contract.runner import Contract, schema_operations


def _response_component(schema: dict, operation_id: str, status: str = "200") -> dict:
    """The component schema an operation's answer refers to."""
    content = schema_operations(schema)[operation_id]["responses"][status]["content"]["application/json"]
    name = content["schema"]["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]


def _client_from(schema: dict, base: Contract, tmp_path, package: str) -> Contract:
    generated = client_generate(schema, tmp_path, package)
    return Contract(package=generated, schema=schema, base_url=base.base_url, workdir=tmp_path)


def test_the_unchanged_schema_parses_the_profile(contract):
    # the control: the operations the mutations below break do parse with the served schema
    contract.call("me_get", contract.as_user(UserFactory()), status=200)


def test_a_string_field_declared_an_integer_fails_to_parse(contract, tmp_path):
    # given the served schema with the profile's username declared an integer
    broken = copy.deepcopy(contract.schema)
    me = _response_component(broken, "me_get")
    assert me["properties"]["username"]["type"] == "string"
    me["properties"]["username"] = {"type": "integer"}

    # when a client generated from it reads the profile
    client = _client_from(broken, contract, tmp_path, "halobuzz_contract_wrong_type")
    with pytest.raises(AssertionError) as refused:
        client.call("me_get", client.as_user(UserFactory()), status=200)

    # then the answer does not parse into the typed model
    assert "username" in str(refused.value) and "is not a int" in str(refused.value)


def test_a_required_field_the_server_does_not_send_fails_to_parse(contract, tmp_path):
    # given the served schema with the profile's required username renamed (removed, and another required)
    broken = copy.deepcopy(contract.schema)
    me = _response_component(broken, "me_get")
    assert "username" in me["required"]
    me["properties"]["user_name"] = me["properties"].pop("username")
    me["required"] = ["user_name" if name == "username" else name for name in me["required"]]

    # when a client generated from it reads the profile
    client = _client_from(broken, contract, tmp_path, "halobuzz_contract_missing_field")

    # then parsing fails on the field the server never sends
    with pytest.raises(KeyError, match="user_name"):
        client.call("me_get", client.as_user(UserFactory()), status=200)


def test_a_field_the_schema_forgets_fails_the_contract(contract, tmp_path):
    # given the served schema without the profile's bio (the server still sends it)
    broken = copy.deepcopy(contract.schema)
    me = _response_component(broken, "me_get")
    del me["properties"]["bio"]
    me["required"] = [name for name in me.get("required", []) if name != "bio"]

    # when a client generated from it reads the profile, then the undeclared field is named
    client = _client_from(broken, contract, tmp_path, "halobuzz_contract_forgotten_field")
    with pytest.raises(AssertionError, match="does not declare: \\['bio'\\]"):
        client.call("me_get", client.as_user(UserFactory()), status=200)
