import os
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from tests.live.room_contract import observed, room_contract
from tests.live.servers import Daphne

# Short presence and broadcast periods so room tests see counts move within a second or two.
ROOM_TEST_ENV = {
    "CHANNEL_LAYER_BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "DB_CONN_MAX_AGE": "0",
    "ALLOWED_HOSTS": "*",
    "SECURE_SSL_REDIRECT": "false",
    "LOG_LEVEL": "WARNING",
    "LIVE_VIEWERS_BROADCAST_SECONDS": "0.5",
    "LIVE_PRESENCE_REFRESH_SECONDS": "1",
    "LIVE_PRESENCE_TTL_SECONDS": "3",
    "LIVE_LIKES_BROADCAST_MS": "200",
    "THROTTLE_LOGIN": "1000/min",
    "AGORA_APP_ID": "",
    "AGORA_APP_CERTIFICATE": "",
}


def daphne_env() -> dict[str, str]:
    """Production mode against the test database (its name is only known once pytest-django made it)."""
    url = urlsplit(os.environ["DATABASE_URL"])
    test_db = connection.settings_dict["NAME"]
    return {**ROOM_TEST_ENV, "DATABASE_URL": urlunsplit(url._replace(path=f"/{test_db}"))}


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, django_db_blocker):
    with Daphne(daphne_env(), log_path="/tmp/halobuzz_live_daphne_tests.log") as server:
        yield server
    _wait_for_daphne_sessions_to_go(django_db_blocker)


def _wait_for_daphne_sessions_to_go(django_db_blocker, timeout: float = 10) -> None:
    """PostgreSQL drops a dead client's backend a moment later: wait so the test database can be dropped."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.2)


@pytest.fixture
def start_daphne(django_db_setup):
    """Start extra daphne processes inside one test; all are stopped at the end."""
    started: list[Daphne] = []

    def start(**env: str) -> Daphne:
        server = Daphne({**daphne_env(), **env})
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def pytest_terminal_summary(terminalreporter):
    """How much of the room contract the run's frames covered (each frame was checked as it came)."""
    if not observed:
        return
    unseen = sorted(set(room_contract().server_messages) - set(observed))
    terminalreporter.write_line(
        f"room frames checked against apps/live/asyncapi.yaml: {sum(observed.values())} frames of "
        f"{len(observed)} event types; declared server events not seen in this run: {', '.join(unseen) or 'none'}"
    )
