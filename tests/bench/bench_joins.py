"""Join benchmark: viewers tapping into one stream room at once, against daphne + Redis + PostgreSQL.

    flock /tmp/halobuzz-bench.lock env DATABASE_URL=postgres://postgres@127.0.0.1:5432/halobuzz_joins \\
    REDIS_URL=redis://127.0.0.1:6391/1 SECRET_KEY=bench-secret-0123456789abcdef0123456789abcdef \\
    .venv/bin/python tests/bench/bench_joins.py [--viewers 10000]

For one and for two daphne processes (--daphnes 1,2), in the same run:
1. the ceiling: a bare ASGI WebSocket app under daphne (tests/bench/ceilings/ws_accept.py: accept,
   one small frame, nothing else) takes --viewers handshakes -> accepts per second;
2. the room: the same number of viewers (distinct users, signed in: their cards are cached as a
   login leaves them) join one live stream's room on fresh daphne processes; each join counts when
   its `room.welcome` arrived -> joins per second, the time for all of them, and the ratio to the
   ceiling of the same daphne count.
Clients are bench_rooms.py's raw viewers (two client processes, 16 handshakes in flight each), so
the ceiling and the room are driven the same way; they share the machine's cores with the servers.
Targets: >= 500 joins/s per daphne; 10,000 viewers in under 20 s on two daphnes.

Figures on the shared 2-core machine (load average 6-26 from other work; ratios are what compare):
before the join cache (the code before apps/live/room_join.py) 0.11x the bare accept ceiling on one
daphne, 0.13x on two (26 and 37 joins/s at load ~20). With it: 0.30-0.31x on one daphne, 0.39-0.70x
on two; 10,000 viewers: 316 joins/s on one daphne (31.6 s, ceiling 1,038/s) and 419/s on two (23.9 s,
ceiling 1,085/s) at load ~6.5; 2,000 viewers on two in 3.7 s (547/s, ceiling 783/s) at load ~11.
With one users subscription per process, the connect scripts batched per loop turn and autobahn's
per-connection pretty-printing deferred (10,000 viewers, load 16 -> 9): 0.54x on one daphne (287/s,
ceiling 531/s; before: 0.27x) and 1.08x on two (592/s in 16.9 s, ceiling 547/s; before: 0.37x). The
two-daphne ceiling barely exceeded one's: at that load the client processes set the pace.
"""

import argparse
import contextlib
import functools
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CEILINGS = REPO / "tests" / "bench" / "ceilings"
print = functools.partial(print, flush=True)  # noqa: A001  (figures appear as they are measured)


def _bench_rooms():
    """bench_rooms.py's raw viewers and client processes (one way of driving sockets for both benchmarks)."""
    spec = importlib.util.spec_from_file_location("bench_rooms", REPO / "tests" / "bench" / "bench_rooms.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rooms = _bench_rooms()


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


class EchoServer:
    """The ceiling's server: daphne serving ws_accept.py."""

    def __init__(self) -> None:
        from tests.live.servers import DAPHNE, free_port

        self.port = free_port()
        self.proc = subprocess.Popen(
            [DAPHNE, "-b", "127.0.0.1", "-p", str(self.port), "ws_accept:application"],
            cwd=CEILINGS,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the echo server did not start")

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)  # closing 10,000 sockets on a loaded machine can take a while
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self) -> "EchoServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def room_daphne(tag: str):
    from tests.live.servers import Daphne

    env = {
        "CHANNEL_LAYER_BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "ALLOWED_HOSTS": "*",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "ERROR",
    }
    return Daphne(env, log_path=f"/tmp/halobuzz_bench_joins{tag}.log")


def joins(urls: list[str], tokens: list[str], connect_seconds: float) -> dict:
    """Every token joins one of `urls` in turn; the time until all welcomes arrived."""
    targets = [(urls[i % len(urls)], token) for i, token in enumerate(tokens)]
    before = load()
    procs, stop, result_q, ready, seconds = rooms.start_clients(targets, processes=2, connect_seconds=connect_seconds)
    after = load()
    rooms.stop_clients(procs, stop, result_q)
    joined = sum(r[0] for r in ready)
    return {
        "joined": joined,
        "failed": sum(r[1] for r in ready),
        "seconds": seconds,
        "rate": joined / seconds if seconds else 0.0,
        "load": f"{before} -> {after}",
    }


def prepare(n_users: int):
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")
    os.environ.setdefault("MEDIA_STORAGE", "filesystem")  # no media in a join benchmark: no buckets needed
    django.setup()
    from datetime import date

    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.models import User
    from apps.live.models import Stream
    from apps.live.services import stream_end

    call_command("migrate", verbosity=0, interactive=False)
    have = set(User.objects.filter(username__startswith="benchjoin_").values_list("username", flat=True))
    User.objects.bulk_create(
        [
            User(
                username=f"benchjoin_{i}",
                password="!",  # noqa: S106  (unusable: these accounts only hold JWTs)
                date_of_birth=date(1990, 1, 1),
                age_verification=User.AgeVerification.VERIFIED,
            )
            for i in range(n_users + 1)
            if f"benchjoin_{i}" not in have
        ],
        batch_size=2000,
    )
    host = User.objects.get(username="benchjoin_0")
    for old in Stream.objects.filter(host=host, status__in=Stream.ACTIVE_STATUSES):
        stream_end(stream_id=old.pk, reason="bench reset")
    now = timezone.now()
    stream = Stream.objects.create(
        host=host, title="join bench", status=Stream.Status.LIVE, started_at=now, last_heartbeat_at=now
    )
    viewers = list(User.objects.filter(username__startswith="benchjoin_").exclude(pk=host.pk).order_by("pk")[:n_users])
    # Signed in: a login leaves the user's generation and card in the cache (apps.accounts.tokens.token_state_mirror).
    try:
        from apps.accounts.tokens import GENERATION_KEY, USER_CARD_KEY, USER_CARD_SECONDS, user_card_build
    except ImportError:  # code from before the user cards (to compare): nothing to warm
        print("this code has no user cards: joins read the user from the database")
    else:
        for start in range(0, len(viewers), 1000):
            batch = viewers[start : start + 1000]
            cards = {USER_CARD_KEY.format(user_id=u.pk): user_card_build(u).as_cached() for u in batch}
            cache.set_many(cards, USER_CARD_SECONDS)
            cache.set_many({GENERATION_KEY.format(user_id=u.pk): u.token_generation for u in batch}, None)
    tokens = [str(AccessToken.for_user(u)) for u in viewers]
    connections.close_all()  # forked clients must not share the parent's connection
    return stream.pk, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=2_000, help="viewers joining (distinct users)")
    parser.add_argument("--daphnes", default="1,2", help="daphne process counts")
    parser.add_argument("--connect-seconds", type=float, default=120.0, help="bound on each join phase")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout unwinds: the servers are stopped
    rooms.raise_fd_limit()
    print(f"cores: {os.cpu_count()}; load average {load()} (1/5 min; other work on this machine shares the cores)")
    stream_id, tokens = prepare(args.viewers)

    for n in (int(x) for x in args.daphnes.split(",")):
        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(EchoServer()) for _ in range(n)]
            ceiling = joins([f"{s.ws}/ws/streams/{stream_id}/" for s in servers], tokens, args.connect_seconds)
        print(
            f"[ceiling] {n} daphne, bare ASGI accept: {ceiling['joined']:,} sockets in {ceiling['seconds']:.1f} s = "
            f"{ceiling['rate']:,.0f}/s ({ceiling['rate'] / n:,.0f}/s per daphne; {ceiling['failed']} failed); "
            f"load {ceiling['load']}"
        )
        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(room_daphne(f"_{n}_{i}")) for i in range(n)]
            room = joins([f"{s.ws}/ws/streams/{stream_id}/" for s in servers], tokens, args.connect_seconds)
        ratio = room["rate"] / ceiling["rate"] if ceiling["rate"] else float("nan")
        print(
            f"[joins]   {n} daphne, one room: {room['joined']:,} viewers joined in {room['seconds']:.1f} s = "
            f"{room['rate']:,.0f} joins/s ({room['rate'] / n:,.0f}/s per daphne; {room['failed']} failed) = "
            f"{ratio:.2f}x the bare accept ceiling; load {room['load']} "
            f"[targets: >= 500/s per daphne; 10,000 in < 20 s on two]"
        )
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()
