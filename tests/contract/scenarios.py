"""The registry of scenarios: each drives some operations through the generated client, happy path
and documented errors. tests/contract/test_operations.py runs each and checks every operation of the
schema is driven by one."""

from collections.abc import Callable

from tests.contract.runner import Contract

Scenario = Callable[[Contract], None]
SCENARIOS: dict[str, tuple[tuple[str, ...], Scenario]] = {}


def drives(*operation_ids: str) -> Callable[[Scenario], Scenario]:
    def register(scenario: Scenario) -> Scenario:
        SCENARIOS[scenario.__name__] = (operation_ids, scenario)
        return scenario

    return register
