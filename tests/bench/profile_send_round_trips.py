"""Where a gift send's Redis work costs CPU: a round trip warm vs after other Python, and the
room announcement's sender thread with the request thread idle vs busy.

A script, not a test. Run under the bench lock, from the repository root, with the environment of
a deployment whose Redis it may write a few short-lived combo keys to (streaks expire):

    flock /tmp/halobuzz-bench.lock .venv/bin/python tests/bench/profile_send_round_trips.py

1. CPU (time.thread_time) of one call, in a tight loop ("warm"), after a 1 ms sleep, after 1 ms of a
   spin that touches almost no memory, and after ~1 ms of unrelated Python (JSON and URL
   resolution) as in a request: PING, a bare
   redis-py EVALSHA of the token-state script, the cache's script_run of it (the call
   access_token_state_gather makes), and the key validation alone.
2. CPU of the process outside the main thread per combo note sent through apps.live.events'
   layer-sender (the combo Lua script, then the channels_redis PUBLISH), one note at a time as a
   sync worker sends them, with the main thread idle or busy for 1.5 ms of Python per note; beside
   the same work done from a plain thread on sync redis-py (a sketch to size the event loop's share).
"""

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")
os.environ.setdefault("MEDIA_STORAGE", "filesystem")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.urls import resolve  # noqa: E402

from apps.accounts import tokens  # noqa: E402
from apps.live import combos, events  # noqa: E402
from apps.live.combos import ComboSend  # noqa: E402

CALLS = 2000
BLOB = [{f"k{i}": list(range(20)), "s": "x" * 50} for i in range(600)]


def other_python() -> None:
    """About a millisecond of the kind of Python a request runs besides the call measured."""
    json.loads(json.dumps(BLOB))
    for _ in range(30):
        resolve("/api/v1/gifts/send/")


def round_trips() -> None:
    backend = caches["default"]
    keys = ["jwt:revoked:bench", "jwt:gen:5", "accounts:lang:5", "throttle:user:5", "live:pk:1"]
    client = backend._cache.get_client(write=True)  # type: ignore[attr-defined]
    script = client.register_script(tokens._GATHER_SCRIPT)
    stored = [backend.make_and_validate_key(key) for key in keys]
    calls = {
        "PING": client.ping,
        "bare EVALSHA (token-state script)": lambda: script(keys=stored, args=[0, 60], client=client),
        "cache script_run (same script)": lambda: backend.script_run(tokens._GATHER_SCRIPT, keys=keys, args=[0, 60]),
        "key validation alone": lambda: [backend.make_and_validate_key(key) for key in keys],
    }
    betweens = {
        "warm": lambda: None,
        "after 1 ms sleep": lambda: time.sleep(0.001),
        "after 1 ms spin": spin,
        "after other Python": other_python,
    }
    print("1. CPU per call, us: " + " / ".join(betweens))
    for label, call in calls.items():
        figures = []
        for between in betweens.values():
            for _ in range(200):
                call()
            spent = 0.0
            for _ in range(CALLS):
                between()
                started = time.thread_time()
                call()
                spent += time.thread_time() - started
            figures.append(f"{spent / CALLS * 1e6:6.0f}")
        print(f"  {label:40} {' / '.join(figures)}")


def spin() -> None:
    """A millisecond of CPU that touches almost no memory."""
    until = time.thread_time() + 0.001
    while time.thread_time() < until:
        pass


def note(number: int) -> tuple[str, dict]:
    send = ComboSend(
        stream_id=1 + number % 50,
        send_id=number,
        sender={"id": number % 200, "username": "bench"},
        gift={"id": 3, "name": "rose"},
        quantity=1,
        coins=5,
    )
    return events.stream_group_name(send.stream_id), {"type": events.COMBO_NOTE, "send": send}


def busy_python() -> None:
    until = time.thread_time() + 0.0015
    total = 0
    while time.thread_time() < until:
        for k in range(200):
            total += k


def sync_sender() -> tuple:
    """The sender's work from a plain thread on sync redis-py: EVALSHA of the combo script, then one
    PUBLISH per frame of the layer's own encoding to the group's channel."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    client = redis.Redis.from_url(settings.REDIS_URL)
    script = client.register_script(combos._NOTE)
    ready = threading.Condition()
    pending: list = []
    state = {"idle": True}

    def run() -> None:
        while True:
            with ready:
                while not pending:
                    ready.wait()
                batch = pending[:]
                pending.clear()
            keys: list = []
            args: list = [settings.LIVE_GIFT_COMBO_WINDOW_MS, settings.LIVE_GIFT_COMBO_FRAME_MS]
            for _, message in batch:
                send = message["send"]
                keys += [combos._streak_key(send), combos._due_key(send.stream_id)]
                args += [send.send_id, send.quantity, send.coins, json.dumps(send.sender), json.dumps(send.gift)]
            args += [combos.KEY_TTL * 1000, combos.STREAK_TTL_MS]
            for frame in script(keys=keys, args=args):
                group = batch[int(frame[7]) - 1][0]
                message = events.room_event_message("gift.combo", combos._payload(frame))
                client.publish(f"{prefix}__group__{group}", layer.serialize(message))
            with ready:
                if not pending:
                    state["idle"] = True

    threading.Thread(target=run, name="sync-sender", daemon=True).start()

    def send(group: str, message: dict) -> None:
        with ready:
            pending.append((group, message))
            state["idle"] = False
            ready.notify()

    return send, lambda: state["idle"]


def sender_cost(label: str, send, idle, busy: bool) -> None:
    def one(number: int) -> None:
        send(*note(number))
        if busy:
            busy_python()
        while not idle():
            time.sleep(0.0002)

    for number in range(300):
        one(number)
    main, process = time.thread_time(), time.process_time()
    for number in range(CALLS):
        one(number)
    main, process = time.thread_time() - main, time.process_time() - process
    print(f"  {label:52} {(process - main) / CALLS * 1e6:6.0f} us")


def main() -> None:
    print(f"load average at start {os.getloadavg()[0]:.2f}")
    round_trips()
    print("2. CPU outside the main thread per combo note")
    sync_send, sync_idle = sync_sender()
    for busy in (False, True):
        main_thread = "busy" if busy else "idle"
        sender_cost(
            f"apps.live.events layer-sender, main thread {main_thread}",
            events._sender.send,
            lambda: events._sender._idle,
            busy,
        )
        sender_cost(f"plain thread, sync redis-py, main thread {main_thread}", sync_send, sync_idle, busy)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
