"""apps.core.db: the prepared cursor behaves like Django's own cursor on a reused connection."""

import psycopg
import pytest
from django.db import close_old_connections, connection

from apps.core.db import prepared_cursor

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"),
]


def _backend_terminate(pid: int) -> None:
    """End a server process from another connection, as a PostgreSQL restart ends them all."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        other.execute("SELECT pg_sleep(0.2)")  # the server process has gone by then


def test_a_request_after_the_server_dropped_the_connection_gets_a_new_one():
    # given a persistent connection with health checks (production's settings), used by one request
    original = {key: connection.settings_dict[key] for key in ("CONN_HEALTH_CHECKS", "CONN_MAX_AGE")}
    connection.close()
    connection.settings_dict["CONN_HEALTH_CHECKS"] = True
    connection.settings_dict["CONN_MAX_AGE"] = 60
    try:
        close_old_connections()
        with prepared_cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        # when the server ends that connection between two requests (a restart, a failover)
        _backend_terminate(pid)
        close_old_connections()  # what Django does at the start of the next request
        # then the next request's first statement, on the prepared cursor (a gift send's), still runs:
        # Django's health check found the connection dead and opened another
        with prepared_cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (again,) = cursor.fetchone()
        assert again != pid
    finally:
        connection.close()
        connection.settings_dict.update(original)
