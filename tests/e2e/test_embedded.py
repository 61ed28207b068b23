"""The embedded default, end to end: `deploy/bin/demo` itself, run in a subprocess.

No DATABASE_URL, REDIS_URL or SECRET_KEY (the demo unsets them): SQLite in a temporary file, daphne
serving the API, the admin and the WebSockets on one free port, a Celery worker with beat and a
moderation worker on the SQLite broker, all under a temporary EMBEDDED_DIR. Settings that would make
the clock slow to watch (heartbeat timeout, PK lengths) are shortened through the environment.
"""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import requests
from django.conf import settings
from websockets.sync.client import ClientConnection, connect

from tests.live.room_contract import room_frame_check

pytestmark = pytest.mark.slow

PYTHON = sys.executable
DEMO = str(settings.BASE_DIR / "deploy" / "bin" / "demo")
STARTUP_SECONDS = 300  # the demo migrates and reseeds first; a loaded 2-core machine is slow
STOP_SECONDS = 120
CLOCK_SECONDS = 120  # how long the clock may take to act, however busy the machine
HEARTBEAT_TIMEOUT_SECONDS = 20
PASSWORD = "halobuzz-demo-2026"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(tmp: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    env.update(
        SQLITE_PATH=str(tmp / "db.sqlite3"),
        MEDIA_ROOT=str(tmp / "media"),
        EMBEDDED_DIR=str(tmp / "embedded"),
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="halobuzz.settings",
        # a clock fast enough to watch: silent streams end after 20 s, checked every 2 s; 5 s battles
        LIVE_HEARTBEAT_TIMEOUT_SECONDS=str(HEARTBEAT_TIMEOUT_SECONDS),
        LIVE_SILENT_CHECK_SECONDS="2",
        LIVE_PK_DURATION_CHOICES="5,60",
        THROTTLE_LOGIN="300/min",
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


def session_left(leader: int) -> list[str]:
    """The processes (not zombies) left in the session the demo started with this pid (Linux /proc)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
        except OSError:  # gone meanwhile
            continue
        state, _ppid, _pgrp, session = rest.rsplit(") ", 1)[1].split()[:4]
        if int(session) == leader and state != "Z":
            left.append(f"{pid} {rest.split(')', 1)[0]} ({state})")
    return left


def sessions_left(sessions: dict[str, int], timeout: float = 30) -> dict[str, list[str]]:
    """What is still running of these sessions after `timeout` s (a child may outlive its parent briefly)."""
    deadline = time.monotonic() + timeout
    while True:
        left = {name: procs for name, leader in sessions.items() if (procs := session_left(leader))}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


class Demo:
    """`deploy/bin/demo <port>` in a session of its own, its output in a file."""

    def __init__(self, env: dict[str, str], tmp: Path):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.logs = Path(env["EMBEDDED_DIR"]) / "log"
        self.output_path = tmp / "demo.out"
        self._output = self.output_path.open("w")
        self.proc = subprocess.Popen(
            [DEMO, str(self.port)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        """The process list the demo prints: name -> pid (each leads a session of its own)."""
        return {name: int(pid) for name, pid in re.findall(r"^\s+(\S+)\s+pid (\d+)\s+log:", self.output(), re.M)}

    def wait_ready(self) -> None:
        """daphne answers and both workers said `ready.` (the moderation one after loading its model)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the demo exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
            if self._up() and all(
                (self.logs / name).exists() and "ready." in (self.logs / name).read_text(errors="replace")
                for name in ("worker.log", "moderation-worker.log")
            ):
                return
            time.sleep(0.5)
        raise AssertionError(f"the demo was not ready within {STARTUP_SECONDS}s:\n{self.output()[-4000:]}")

    def _up(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_exit(self, timeout: float = STOP_SECONDS) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the demo did not stop within {timeout}s:\n{self.output()[-4000:]}") from None

    def cleanup(self) -> None:
        """Whatever a failed test left running goes."""
        for leader in [self.proc.pid, *self.pids().values()]:
            try:
                os.killpg(leader, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        self._output.close()


@dataclass
class Embedded:
    demo: Demo
    seed_output: str
    username: str
    password: str
    rows_after_first_seed: dict[str, int]
    rows_after_second_seed: dict[str, int]

    @property
    def base_url(self) -> str:
        return self.demo.base_url

    @property
    def port(self) -> int:
        return self.demo.port


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, dict[str, int], dict[str, int], str, str]:
    """A migrated and seeded database (seeded twice, counting rows), to copy for each demo."""
    tmp = tmp_path_factory.mktemp("seeded")
    env = embedded_env(tmp)
    manage(env, "migrate", "--noinput")
    first = manage(env, "seed_demo")
    after_first = row_counts(tmp / "db.sqlite3")
    second = manage(env, "seed_demo")
    after_second = row_counts(tmp / "db.sqlite3")
    return tmp / "db.sqlite3", after_first, after_second, first, second


def demo_start(tmp: Path, seeded_db: Path) -> Demo:
    env = embedded_env(tmp)
    with sqlite3.connect(seeded_db) as source, sqlite3.connect(env["SQLITE_PATH"]) as target:
        source.backup(target)  # WAL-safe copy
    return Demo(env, tmp)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, seeded) -> Iterator[Embedded]:
    seeded_db, after_first, after_second, first, second = seeded
    credentials = re.search(r"password for all: (\S+)\): (.+)", first)
    assert credentials, first
    assert "admin" in [name.strip() for name in credentials.group(2).split(",")]
    demo = demo_start(tmp_path_factory.mktemp("embedded"), seeded_db)
    try:
        demo.wait_ready()
        yield Embedded(
            demo=demo,
            seed_output=first + second,
            username="admin",
            password=credentials.group(1),
            rows_after_first_seed=after_first,
            rows_after_second_seed=after_second,
        )
    finally:
        demo.cleanup()


def test_healthz_answers(embedded):
    response = requests.get(f"{embedded.base_url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_on_the_embedded_backends(embedded):
    response = requests.get(f"{embedded.base_url}/readyz", timeout=10)
    assert response.status_code == 200, response.text


def test_seed_demo_prints_the_credentials_and_a_second_run_creates_nothing(embedded):
    assert embedded.password == PASSWORD
    assert embedded.rows_after_second_seed == embedded.rows_after_first_seed
    assert embedded.rows_after_first_seed["accounts_user"] >= 7


def test_the_demo_prints_the_logins_and_its_process_list(embedded):
    output = embedded.demo.output()
    assert f"password for all: {PASSWORD}" in output
    assert set(embedded.demo.pids()) == {"daphne", "worker", "moderation-worker"}
    assert f"HaloBuzz on http://127.0.0.1:{embedded.port}/" in output


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


def test_an_unknown_api_path_answers_json_and_an_unknown_page_html(embedded):
    # the embedded default runs with DEBUG on, where Django answers its HTML debug page
    api = requests.get(f"{embedded.base_url}/api/v1/no-such-thing/", timeout=10)
    assert api.status_code == 404 and api.headers["Content-Type"] == "application/json"
    assert api.json() == {"code": "not_found", "message": "Not found.", "details": {}}
    page = requests.get(f"{embedded.base_url}/no-such-page/", timeout=10)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")


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


# --- The clock: delayed tasks and beat jobs run in the worker, their room events reach daphne ---


@dataclass
class User:
    base_url: str
    username: str
    id: int
    access: str
    streams: list[int] = field(default_factory=list)

    @classmethod
    def login(cls, base_url: str, username: str) -> "User":
        response = requests.post(
            f"{base_url}/api/v1/auth/login/", json={"identifier": username, "password": PASSWORD}, timeout=30
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return cls(base_url, username, body["user"]["id"], body["tokens"]["access"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def post(self, path: str, body: dict | None = None, **headers: str) -> requests.Response:
        return requests.post(f"{self.base_url}{path}", json=body or {}, headers={**self.headers, **headers}, timeout=30)

    def get(self, path: str) -> dict:
        response = requests.get(f"{self.base_url}{path}", headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def go_live(self, title: str) -> int:
        """A fresh stream (a stream of the seed's, maybe near its heartbeat timeout, is ended first)."""
        response = self.post("/api/v1/streams/", {"title": title})
        if response.status_code == 409 and response.json()["code"] == "already_live":
            assert self.post(f"/api/v1/streams/{response.json()['details']['stream_id']}/end/").status_code == 200
            response = self.post("/api/v1/streams/", {"title": title})
        assert response.status_code == 201, response.text
        stream_id = response.json()["stream"]["id"]
        self.streams.append(stream_id)
        return stream_id

    def room(self, stream_id: int) -> "RoomSocket":
        port = self.base_url.rsplit(":", 1)[1]
        ws = connect(
            f"ws://127.0.0.1:{port}/ws/streams/{stream_id}/?token={self.access}",
            origin=f"http://127.0.0.1:{port}",
            open_timeout=30,
        )
        room = RoomSocket(ws)
        assert room.until("room.welcome", timeout=30)
        return room


class RoomSocket:
    def __init__(self, ws: ClientConnection):
        self.ws = ws

    def until(self, event_type: str, *, timeout: float) -> dict:
        """The payload of the first `event_type` event within `timeout` seconds (others skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                break
            room_frame_check(event)
            if event["type"] == event_type:
                return event["payload"]
        raise AssertionError(f"no {event_type} within {timeout}s")

    def close(self) -> None:
        self.ws.close()


class Heartbeats:
    """The hosts' apps: a heartbeat for each live stream every 2 s, in a thread, until the block ends."""

    def __init__(self, *hosts: User):
        self.hosts = hosts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(2):
            for host in self.hosts:
                for stream_id in host.streams:
                    try:
                        host.post(f"/api/v1/streams/{stream_id}/heartbeat/")
                    except requests.RequestException:
                        pass  # the next beat tries again; the timeout is ten beats away

    def __enter__(self) -> "Heartbeats":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def gift_send(sender: User, *, stream_id: int, gift_id: int, quantity: int) -> None:
    response = sender.post(
        "/api/v1/gifts/send/",
        {"stream": stream_id, "gift": gift_id, "quantity": quantity},
        **{"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text


def test_a_five_second_pk_battle_ends_on_its_own_with_the_winner(embedded):
    # given both demo hosts live in a LinkCast (their apps sending heartbeats) and a viewer in each room
    host, host2, fan = (User.login(embedded.base_url, name) for name in ("host", "host2", "viewer"))
    host_stream, guest_stream = host.go_live("PK night"), host2.go_live("PK night, guest")
    with Heartbeats(host, host2):
        invite = host.post("/api/v1/streams/linkcasts/", {"guest_stream_id": guest_stream})
        assert invite.status_code == 201, invite.text
        linkcast_id = invite.json()["id"]
        assert host2.post(f"/api/v1/streams/linkcasts/{linkcast_id}/accept/").status_code == 200
        rooms = [fan.room(host_stream), fan.room(guest_stream)]
        momo = next(gift for gift in fan.get("/api/v1/gifts/") if gift["name"] == "Momo")
        assert momo["coin_price"] == 20

        # when the host starts a 5-second battle and the fan sends 3 Momo to the host, 2 to the guest
        started = host.post(f"/api/v1/streams/linkcasts/{linkcast_id}/pk/", {"duration_seconds": 5})
        assert started.status_code == 201, started.text
        battle = started.json()
        gift_send(fan, stream_id=host_stream, gift_id=momo["id"], quantity=3)
        gift_send(fan, stream_id=guest_stream, gift_id=momo["id"], quantity=2)

        # then nobody ends it, yet both rooms hear it end, no earlier than its time, with the host winning
        ended = [room.until("pk.ended", timeout=CLOCK_SECONDS) for room in rooms]
        heard_at = time.time()
        for room in rooms:
            room.close()
    ends_at = battle["ends_at"]
    for payload in ended:
        assert payload["id"] == battle["id"] and payload["status"] == "ended"
        assert payload["winner_id"] == host.id
        assert [(side["user_id"], side["coins"]) for side in payload["sides"]] == [(host.id, 60), (host2.id, 40)]
    assert heard_at >= datetime.fromisoformat(ends_at).timestamp()
    final = fan.get(f"/api/v1/streams/linkcasts/{linkcast_id}/pk/")["battle"]
    assert (final["status"], final["winner_id"]) == ("ended", host.id)


def test_a_silent_stream_is_ended_by_the_beat_sweep(embedded):
    # given a host who went live, then fell silent (no heartbeat), and a viewer in the room
    silent_host, fan = User.login(embedded.base_url, "viewer2"), User.login(embedded.base_url, "viewer")
    stream_id = silent_host.go_live("Connection lost")
    live_since = time.monotonic()
    room = fan.room(stream_id)

    # when LIVE_HEARTBEAT_TIMEOUT_SECONDS pass; then beat's sweep ends it and the room hears why
    try:
        ended = room.until("stream.ended", timeout=HEARTBEAT_TIMEOUT_SECONDS + CLOCK_SECONDS)
    finally:
        room.close()
    assert time.monotonic() - live_since >= HEARTBEAT_TIMEOUT_SECONDS
    assert (ended["stream_id"], ended["reason"], ended["by_moderation"]) == (stream_id, "host_silent", False)
    assert fan.get(f"/api/v1/streams/{stream_id}/")["status"] == "ended"


# --- Stopping: these end the module's demo, so they come last -----------------------------------


def test_sigterm_stops_every_process_of_the_demo(embedded):
    # given the running demo and its process list
    demo = embedded.demo
    sessions = demo.pids()
    assert set(sessions) == {"daphne", "worker", "moderation-worker"}

    # when it gets SIGTERM (what Ctrl-C does to it, too)
    demo.proc.send_signal(signal.SIGTERM)

    # then it stops, all of it (the workers' pool children and beat included), and says so
    assert demo.wait_exit() == 0, demo.output()[-4000:]
    assert "demo: stopping" in demo.output()
    assert sessions_left(sessions) == {}
    assert not (Path(demo.env["EMBEDDED_DIR"]) / "room-server.token").exists()
    assert "Warm shutdown" in (demo.logs / "worker.log").read_text()


def test_a_crashed_worker_is_reported_and_stops_the_demo(tmp_path, seeded):
    # given a second demo, running
    demo = demo_start(tmp_path, seeded[0])
    try:
        demo.wait_ready()
        sessions = demo.pids()

        # when its Celery worker dies
        os.kill(sessions["worker"], signal.SIGKILL)

        # then the demo names it, shows the end of its log, stops the rest and exits with an error
        assert demo.wait_exit() == 1
        output = demo.output()
        assert f"demo: worker (pid {sessions['worker']}) exited with status 137" in output
        assert "last lines of" in output and "worker.log" in output
        assert sessions_left(sessions) == {}
    finally:
        demo.cleanup()
