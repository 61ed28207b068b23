"""The embedded default, end to end: what `deploy/bin/demo` starts, run in a subprocess.

No DATABASE_URL, REDIS_URL or SECRET_KEY (the demo unsets them): SQLite in a temporary file, the
in-memory channel layer, daphne serving the API, the admin and the WebSockets on one free port.
"""

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings
from websockets.sync.client import connect

pytestmark = pytest.mark.slow

PYTHON = sys.executable
DAPHNE = str(Path(sys.executable).parent / "daphne")
STARTUP_SECONDS = 60


@dataclass
class Embedded:
    base_url: str
    port: int
    seed_output: str
    username: str
    password: str
    rows_after_first_seed: dict[str, int]
    rows_after_second_seed: dict[str, int]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(tmp: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    env.update(
        SQLITE_PATH=str(tmp / "db.sqlite3"),
        MEDIA_ROOT=str(tmp / "media"),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="halobuzz.settings",
    )
    # what the test command sets for production mode means nothing here; keep the demo's own defaults
    for key in ("ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(key, None)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def row_counts(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}  # noqa: S608


def wait_until_up(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"daphne exited with {process.returncode}")
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"daphne did not answer on {base_url} within {STARTUP_SECONDS}s")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> Iterator[Embedded]:
    tmp = tmp_path_factory.mktemp("embedded")
    env = embedded_env(tmp)
    manage(env, "migrate", "--noinput")
    first = manage(env, "seed_demo")
    after_first = row_counts(tmp / "db.sqlite3")
    second = manage(env, "seed_demo")
    after_second = row_counts(tmp / "db.sqlite3")
    credentials = re.search(r"password for all: (\S+)\): (.+)", first)
    assert credentials, first
    usernames = [name.strip() for name in credentials.group(2).split(",")]
    assert "admin" in usernames

    port = free_port()
    log = (tmp / "daphne.log").open("w")
    process = subprocess.Popen(  # exactly the demo's server command
        [DAPHNE, "-b", "127.0.0.1", "-p", str(port), "halobuzz.asgi:application"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process)
        yield Embedded(
            base_url=base_url,
            port=port,
            seed_output=first + second,
            username="admin",
            password=credentials.group(1),
            rows_after_first_seed=after_first,
            rows_after_second_seed=after_second,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def test_healthz_answers(embedded):
    response = requests.get(f"{embedded.base_url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_on_the_embedded_backends(embedded):
    response = requests.get(f"{embedded.base_url}/readyz", timeout=10)
    assert response.status_code == 200, response.text


def test_seed_demo_prints_the_credentials_and_a_second_run_creates_nothing(embedded):
    assert embedded.password == "halobuzz-demo-2026"
    assert embedded.rows_after_second_seed == embedded.rows_after_first_seed
    assert embedded.rows_after_first_seed["accounts_user"] >= 7


def test_the_admin_login_page_is_branded(embedded):
    response = requests.get(f"{embedded.base_url}/admin/login/", timeout=10)
    assert response.status_code == 200
    assert "HaloBuzz" in response.text
    stylesheet = re.search(r'href="(/static/admin/css/[^"]+\.css)"', response.text)
    assert stylesheet, response.text[:500]
    assert requests.get(embedded.base_url + stylesheet.group(1), timeout=10).status_code == 200


def test_the_printed_demo_credentials_log_in_to_the_admin(embedded):
    # given the login form and its CSRF token
    session = requests.Session()
    page = session.get(f"{embedded.base_url}/admin/login/?next=/admin/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    # when the admin logs in with the printed credentials
    response = session.post(
        f"{embedded.base_url}/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": token,
            "username": embedded.username,
            "password": embedded.password,
            "next": "/admin/",
        },
        headers={"Referer": f"{embedded.base_url}/admin/login/"},
        timeout=20,
    )

    # then the dashboard opens, with the users admin on it
    assert response.status_code == 200
    assert response.url.rstrip("/").endswith("/admin"), response.url
    assert "/admin/accounts/user/" in response.text
    assert "Log out" in response.text or "logout" in response.text
    users = session.get(f"{embedded.base_url}/admin/accounts/user/?q=viewer", timeout=10)
    assert users.status_code == 200 and "viewer2" in users.text


def test_a_wrong_password_does_not_log_in(embedded):
    session = requests.Session()
    page = session.get(f"{embedded.base_url}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{embedded.base_url}/admin/login/",
        data={"csrfmiddlewaretoken": token, "username": "admin", "password": "wrong-password"},
        timeout=20,
    )
    assert response.status_code == 200 and "/admin/accounts/user/" not in response.text


def test_the_api_logs_the_demo_viewer_in(embedded):
    response = requests.post(
        f"{embedded.base_url}/api/v1/auth/login/",
        json={"identifier": "viewer", "password": embedded.password},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    me = requests.get(
        f"{embedded.base_url}/api/v1/me/",
        headers={"Authorization": f"Bearer {response.json()['tokens']['access']}"},
        timeout=10,
    )
    assert me.status_code == 200 and me.json()["username"] == "viewer"


def test_websocket_handshake_gets_the_hello_event(embedded):
    with connect(
        f"ws://127.0.0.1:{embedded.port}/ws/health/", origin=f"http://127.0.0.1:{embedded.port}", open_timeout=10
    ) as ws:
        hello = json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"type": "ping"}))
        pong = json.loads(ws.recv(timeout=10))
    assert hello == {"type": "hello", "payload": {"authenticated": False}}
    assert pong["type"] == "pong"


def test_websocket_handshake_with_a_jwt_subprotocol_is_authenticated(embedded):
    login = requests.post(
        f"{embedded.base_url}/api/v1/auth/login/",
        json={"identifier": "host", "password": embedded.password},
        timeout=20,
    )
    access = login.json()["tokens"]["access"]
    with connect(f"ws://127.0.0.1:{embedded.port}/ws/health/", subprotocols=["jwt", access], open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert ws.subprotocol == "jwt"
    assert hello == {"type": "hello", "payload": {"authenticated": True}}
