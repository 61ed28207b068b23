"""HaloBuzz load test: viewers who sit in a live room over a WebSocket, list live streams and send gifts.

The user count includes one Host per seeded stream (its app's heartbeat every 15 s); the rest are Viewers.

Run through deploy/loadtest/run.sh (it starts the stack and seeds LOADTEST_SEED). Each simulated user:
- opens `ws/streams/<id>/?token=<jwt>` on daphne and keeps reading room events (gift.sent, gift.combo, viewers...);
- every LOADTEST_WAIT_MIN..LOADTEST_WAIT_MAX seconds (default 2-5) either lists live streams
  (GET /api/v1/streams/active, weight 10) or sends one gift with a fresh Idempotency-Key
  (POST /api/v1/gifts/send/, weight 1).
WebSocket connects are reported as request type "WS" (time to the room.welcome frame).
"""

import itertools
import json
import os
import random
import threading
import time
import uuid

import gevent
import websocket
from locust import FastHttpUser, between, constant, events, task

SEED = json.loads(open(os.environ["LOADTEST_SEED"]).read())  # noqa: SIM115
WS_BASE = os.environ.get("LOADTEST_WS", "ws://127.0.0.1:8001")
WS_ORIGIN = os.environ.get("LOADTEST_ORIGIN", "http://127.0.0.1")
WAIT_MIN = float(os.environ.get("LOADTEST_WAIT_MIN", "2"))
WAIT_MAX = float(os.environ.get("LOADTEST_WAIT_MAX", "5"))
HEARTBEAT_SECONDS = float(os.environ.get("LOADTEST_HEARTBEAT_SECONDS", "15"))
_next_user = itertools.count()
_next_host = itertools.count()
_lock = threading.Lock()
WS_STATS = {"frames": 0, "gift_events": 0, "closed_early": 0}
# Kept apart from locust's stats, which run.sh resets once every user has spawned (--reset-stats):
# the sockets all open during the ramp, so their figures must survive the reset.
WS_CONNECTS: list[float] = []
# Whole run, for the check against the database. A gift still in flight when locust stops may be
# stored without its 201 ever being read: attempted - accepted - refused of them.
GIFTS = {"attempted": 0, "accepted": 0, "refused": 0}
WS_CONNECT_FAILURES: list[str] = []


class Host(FastHttpUser):
    """One per seeded stream: the host's app sends a heartbeat every LIVE_HEARTBEAT_SECONDS, or the
    stream is ended as silent (and its viewers' gifts refused)."""

    fixed_count = len(SEED["hosts"])
    wait_time = constant(HEARTBEAT_SECONDS)

    def on_start(self) -> None:
        seeded = SEED["hosts"][next(_next_host) % len(SEED["hosts"])]
        self.stream = seeded["stream"]
        self.auth = {"Authorization": f"Bearer {seeded['token']}"}
        self.heartbeat()

    @task
    def heartbeat(self) -> None:
        self.client.post(
            f"/api/v1/streams/{self.stream}/heartbeat/", headers=self.auth, name="POST /api/v1/streams/<id>/heartbeat/"
        )


class Viewer(FastHttpUser):
    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self) -> None:
        seeded = SEED["users"][next(_next_user) % len(SEED["users"])]
        self.token = seeded["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.stream = random.choice(SEED["streams"])
        self.ws = None
        self.reader = None
        self._connect_room()

    def _connect_room(self) -> None:
        url = f"{WS_BASE}/ws/streams/{self.stream}/?token={self.token}"
        started = time.perf_counter()
        exception = None
        try:
            self.ws = websocket.create_connection(url, timeout=15, origin=WS_ORIGIN)
            welcome = json.loads(self.ws.recv())
            if welcome.get("type") != "room.welcome":
                raise RuntimeError(f"expected room.welcome, got {welcome.get('type')}")
        except Exception as exc:  # noqa: BLE001 - reported to locust as a failed connect
            exception = exc
            self.ws = None
        elapsed_ms = (time.perf_counter() - started) * 1000
        with _lock:
            WS_CONNECTS.append(elapsed_ms)
            if exception is not None:
                WS_CONNECT_FAILURES.append(f"{type(exception).__name__}: {exception}"[:120])
        events.request.fire(
            request_type="WS",
            name="ws/streams/<id>/ connect",
            response_time=elapsed_ms,
            response_length=0,
            exception=exception,
            context={},
        )
        if self.ws is not None:
            self.ws.settimeout(None)
            self.reader = gevent.spawn(self._read_room)

    def _read_room(self) -> None:
        ws = self.ws
        try:
            while True:
                frame = ws.recv()
                if not frame:
                    break
                with _lock:
                    WS_STATS["frames"] += 1
                    if '"gift.sent"' in frame or '"gift.combo"' in frame:
                        WS_STATS["gift_events"] += 1
        except Exception:  # noqa: BLE001 - the socket closed
            if self.ws is not None:
                with _lock:
                    WS_STATS["closed_early"] += 1

    def on_stop(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # noqa: BLE001, S110
                pass
        if self.reader is not None:
            self.reader.kill(block=False)

    @task(10)
    def list_live_streams(self) -> None:
        self.client.get("/api/v1/streams/active?limit=20", headers=self.auth, name="GET /api/v1/streams/active")

    @task(1)
    def send_gift(self) -> None:
        body = {"stream": self.stream, "gift": SEED["gift"], "quantity": 1}
        headers = {**self.auth, "Idempotency-Key": uuid.uuid4().hex}
        with _lock:
            GIFTS["attempted"] += 1
        with self.client.post(
            "/api/v1/gifts/send/", json=body, headers=headers, name="POST /api/v1/gifts/send/", catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            with _lock:
                GIFTS["accepted" if response.status_code == 201 else "refused"] += 1


def _figures(entry) -> dict:
    return {
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": round(entry.total_rps, 1),
        "error_rate": entry.num_failures / entry.num_requests if entry.num_requests else 0.0,
        "p50_ms": entry.get_response_time_percentile(0.50),
        "p95_ms": entry.get_response_time_percentile(0.95),
        "p99_ms": entry.get_response_time_percentile(0.99),
        "max_ms": entry.max_response_time,
    }


@events.quitting.add_listener
def _summary(environment, **kwargs) -> None:
    """HTTP figures merged exactly (locust's histograms), WebSocket connects apart; written as JSON."""
    from locust.stats import StatsEntry

    stats = environment.stats
    http = StatsEntry(stats, "HTTP total", "")
    endpoints = {}
    for (name, method), entry in stats.entries.items():
        endpoints[name] = _figures(entry)
        if method != "WS":
            http.extend(entry)
    http.start_time = stats.total.start_time
    connects = sorted(WS_CONNECTS)

    def pct(q: float) -> float:
        return round(connects[min(len(connects) - 1, int(q * len(connects)))], 1) if connects else 0.0

    summary = {
        "users": environment.runner.user_count if environment.runner else None,
        "ws_connects": {
            "count": len(connects),
            "failures": len(WS_CONNECT_FAILURES),
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "errors": sorted(set(WS_CONNECT_FAILURES))[:5],
        },
        "http": _figures(http),
        "endpoints": endpoints,
        "ws": WS_STATS,
        "gifts": GIFTS,
        "errors": [
            {"name": e.name, "method": e.method, "error": str(e.error)[:200], "count": e.occurrences}
            for e in stats.errors.values()
        ][:20],
    }
    path = os.environ.get("LOADTEST_SUMMARY")
    if path:
        with open(path, "w") as handle:
            json.dump(summary, handle, indent=1)
