"""The contract suite: a client generated once per session from the schema the live server serves."""

import pytest
import requests

from tests.accounts.factories import sms_point_at_sandbox
from tests.contract.generated import client_generate
from tests.contract.runner import Contract
from tests.payments.factories import gateways_point_at_sandbox


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/contract/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.contract)


@pytest.fixture(scope="session")
def served_schema(live_server) -> dict:
    """The OpenAPI document as the running server publishes it at /api/schema/."""
    response = requests.get(f"{live_server.url}/api/schema/", params={"format": "json"}, timeout=60)
    assert response.status_code == 200, response.content[:300]
    return response.json()


@pytest.fixture(scope="session")
def generated_client(served_schema, tmp_path_factory):
    return client_generate(served_schema, tmp_path_factory.mktemp("contract"), "halobuzz_contract_client")


@pytest.fixture
def contract(
    generated_client, served_schema, live_server, transactional_db, settings, isolated_media, tmp_path
) -> Contract:
    gateways_point_at_sandbox(settings, live_server.url)
    sms_point_at_sandbox(settings, live_server.url)
    # Agora credentials of the shape Agora issues, so the media tokens are signed (tests/live does the same).
    settings.AGORA_APP_ID = "970CA35de60c44645bbae8a215061b33"
    settings.AGORA_APP_CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
    return Contract(package=generated_client, schema=served_schema, base_url=live_server.url, workdir=tmp_path)
