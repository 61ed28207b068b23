"""Every operation of the served schema, driven through the generated client against the live server:
a success and at least one documented error each, every answer parsed into its typed model."""

import pytest

from tests.contract import (  # noqa: F401  (register their scenarios)
    scenarios_accounts,
    scenarios_content,
    scenarios_live,
    scenarios_money,
    scenarios_search,
)
from tests.contract.runner import requires_token, schema_operations
from tests.contract.scenarios import SCENARIOS


def test_every_operation_of_the_schema_is_driven(served_schema):
    driven = {operation for operations, _ in SCENARIOS.values() for operation in operations}
    in_schema = set(schema_operations(served_schema))
    assert in_schema - driven == set(), "operations no scenario drives"
    assert driven - in_schema == set(), "scenarios drive operations the schema does not have"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name, contract):
    operations, scenario = SCENARIOS[name]
    scenario(contract)
    in_schema = schema_operations(contract.schema)
    for operation_id in operations:
        statuses = contract.driven(operation_id)
        assert any(200 <= status < 400 for status in statuses), f"{operation_id}: no success driven"
        if requires_token(in_schema[operation_id]) and 401 not in statuses:
            # the same call without a token: refused, in the documented error shape
            first = next(call for call in contract.calls if call.operation_id == operation_id)
            contract.call(operation_id, contract.anonymous(), status=401, code="not_authenticated", **first.kwargs)
        assert any(400 <= status < 500 for status in contract.driven(operation_id)), f"{operation_id}: no error driven"
