"""Where a gift send's CPU goes: POST /api/v1/gifts/send/ through the WSGI application in this process.

A script, not a test. It builds the gift benchmark's data (tests/bench/bench_gifts.py `prepare`) in a
database of its own, then calls `halobuzz.wsgi.application` directly, with the production settings
and middleware (no gunicorn, no sockets to a client): the same code path a gunicorn worker runs after
it has parsed the request. It prints, per send:

  - CPU of the process, split by thread (the request thread; `layer-sender`, which announces the
    send to the room after commit; `leaderboard-flush`), beside /healthz through the same application;
  - the request thread's CPU by section (time.thread_time around each, so waiting on PostgreSQL or
    Redis is not counted): each middleware's own share, URL resolution, DRF's authentication and
    throttles, the serializer, the service and its one SQL statement, rendering.

Figures are CPU microseconds; the wrappers that time the sections add about 1-3 us each. The
middleware table is the difference between one middleware's time and the next one's, so a
middleware's share includes its process_request and process_response (process_view lands in
the last one's share, with the URL resolution).

Last, it starts gunicorn as the benchmark does and prints its workers' CPU per request for /healthz
and for a send, under the same closed-loop load: what the server costs around the application.

    .venv/bin/python tests/bench/profile_gift_send.py [--sends 3000] [--seconds 8]

Needs PostgreSQL and Redis on 127.0.0.1. It creates and drops the database BENCH_PROFILE_DB
(default halobuzz_bench_gift_profile) and flushes the Redis database bench_gifts.py flushes
(BENCH_REDIS_DB, default 3). Run it under `flock /tmp/halobuzz-bench.lock` like a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_gifts  # noqa: E402  (the benchmark's data and settings)

spent: collections.Counter[str] = collections.Counter()
labels: list[str] = []  # in the order they were installed (outer first)


def timed(owner: Any, name: str, label: str) -> None:
    """Replace owner.name by a wrapper adding its request-thread CPU to spent[label]."""
    original = getattr(owner, name)
    labels.append(label)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - started

    setattr(owner, name, wrapper)


def sections_install() -> list[str]:
    """Time the request's sections; returns the middleware labels in MIDDLEWARE order."""
    from django.conf import settings
    from django.core.handlers.base import BaseHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.http.response import HttpResponseBase
    from django.utils.module_loading import import_string
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.serializers import Serializer
    from rest_framework.views import APIView
    from rest_framework_simplejwt.authentication import JWTAuthentication

    from apps.accounts import authentication
    from apps.core import db
    from apps.gifts import apis, services

    middleware_labels = []
    for number, path in enumerate(settings.MIDDLEWARE):
        cls = import_string(path)
        label = f"middleware {number:02d} {path.rsplit('.', 1)[1]}"
        if "__call__" not in cls.__dict__:  # Django's MiddlewareMixin: time this class, not the mixin
            cls.__call__ = lambda self, request, _call=cls.__call__: _call(self, request)
        timed(cls, "__call__", label)
        middleware_labels.append(label)
    timed(WSGIHandler, "__call__", "wsgi: all")
    timed(HttpResponseBase, "close", "wsgi: response close (request_finished)")
    timed(BaseHandler, "resolve_request", "url resolution")
    timed(APIView, "dispatch", "drf: dispatch")
    timed(APIView, "initialize_request", "drf: initialize_request")
    timed(APIView, "initial", "drf: initial (authentication, permissions, throttles)")
    timed(authentication.JwtStatelessAuthentication, "authenticate", "  authentication")
    timed(JWTAuthentication, "get_validated_token", "    JWT decode and checks")
    timed(authentication, "access_token_state_gather", "    Redis script (token state, throttle, PK marker)")
    timed(APIView, "check_throttles", "  throttles")
    timed(APIView, "check_permissions", "  permissions")
    timed(apis.GiftSendApi, "post", "drf: GiftSendApi.post")
    timed(Request, "_parse", "  body parse")
    timed(Serializer, "is_valid", "  input serializer")
    timed(services, "gift_send", "  service gift_send")
    timed(db._PreparingCursor, "execute", "    psycopg execute (the one statement)")
    timed(services, "_announce", "    _announce (queue room event, metrics, leaderboards)")
    timed(apis, "output_data", "  output serializer")
    timed(APIView, "finalize_response", "drf: finalize_response")
    timed(Response, "render", "response render (JSON)")
    return middleware_labels


def threads_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process, by thread name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path("/proc/self/task").iterdir():
        stat = (task / "stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        out[names.get(int(task.name), task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def cpu_split(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds of these processes."""
    user = system = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        user, system = user + int(fields[11]), system + int(fields[12])
    ticks = os.sysconf("SC_CLK_TCK")
    return user / ticks, system / ticks


async def plain_load(
    port: int, clients: int, seconds: float, request: bytes, gunicorn: subprocess.Popen
) -> tuple[int, float]:
    """Closed loop of one fixed request per connection, as bench_gifts.http_load sends gifts:
    (answers in `seconds`, the gunicorn workers' CPU seconds meanwhile)."""
    workers, _ = bench_gifts.server_pids(gunicorn)
    before = bench_gifts.cpu_seconds(workers)
    stop_at = time.monotonic() + seconds
    done = 0

    async def client() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await reader.read()
            writer.close()
            done += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return done, bench_gifts.cpu_seconds(workers) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=3000, help="timed sends (and as many /healthz)")
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0, help="each gunicorn load")
    args = parser.parse_args()

    db_name = os.environ.get("BENCH_PROFILE_DB", "halobuzz_bench_gift_profile")
    redis_url = bench_gifts.REDIS_URL
    bench_gifts.DB_NAME = db_name
    bench_gifts.ENV.update(
        DATABASE_URL=f"{bench_gifts.PG}/{db_name}",
        REDIS_URL=redis_url,
        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="hb-profile-metrics-"),
    )
    print(f"Gift send CPU profile on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}", flush=True)
    _, stream, gift, _, tokens = bench_gifts.prepare(args.senders, 10**7)

    from django.db import connection

    from halobuzz.wsgi import application

    connection.close()
    body = f'{{"stream": {stream.pk}, "gift": {gift.pk}, "quantity": 1}}'.encode()
    statuses: collections.Counter[str] = collections.Counter()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses[status[:3]] += 1

    def call(number: int, path: str, method: str) -> None:
        post = method == "POST"
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "bench",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "bench",
            "HTTP_CONNECTION": "close",
            "CONTENT_TYPE": "application/json" if post else "",
            "CONTENT_LENGTH": str(len(body)) if post else "",
            "HTTP_AUTHORIZATION": f"Bearer {tokens[number % len(tokens)]}",
            "HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex,
            "wsgi.input": io.BytesIO(body if post else b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        response = application(environ, start_response)
        b"".join(response)
        response.close()

    def run(label: str, path: str, method: str, count: int) -> None:
        before, cpu = threads_cpu(), time.process_time()
        for number in range(count):
            call(number, path, method)
        cpu, after = time.process_time() - cpu, threads_cpu()
        split = ", ".join(
            f"{name} {(after[name] - before.get(name, 0.0)) / count * 1e6:.0f}"
            for name in sorted(after)
            if after[name] - before.get(name, 0.0) > 0
        )
        print(f"  {label}: {cpu / count * 1e6:.0f} us CPU per request (by thread: {split})", flush=True)

    print("\n1. Whole process (no timing wrappers)")
    for number in range(300):  # warm: connections, prepared statement, caches
        call(number, "/api/v1/gifts/send/", "POST")
    run("POST /api/v1/gifts/send/", "/api/v1/gifts/send/", "POST", args.sends)
    run("GET /healthz", "/healthz", "GET", args.sends)

    print("\n2. The request thread by section (us CPU per send; wrappers add ~1-3 us each)")
    middleware_labels = sections_install()
    for number in range(100):
        call(number, "/api/v1/gifts/send/", "POST")
    spent.clear()
    for number in range(args.sends):
        call(number, "/api/v1/gifts/send/", "POST")
    per_send: Callable[[str], float] = lambda label: spent[label] / args.sends * 1e6  # noqa: E731
    for label in (k for k in labels if not k.startswith("middleware")):
        print(f"  {label:60s} {per_send(label):7.0f}")
    print("  middleware, each one's own share:")
    for this, following in zip(middleware_labels, [*middleware_labels[1:], "drf: dispatch"], strict=True):
        print(f"    {this:58s} {per_send(this) - per_send(following):7.0f}")
    print("    (the last one's share holds URL resolution and the view's decorators)")
    print(f"  answers: {dict(statuses)}")

    connection.close()
    print("\n3. gunicorn as production runs it (bench_gifts.start_gunicorn), 32 clients: CPU of its workers")
    with tempfile.TemporaryDirectory(prefix="hb-profile-gunicorn-") as metrics_dir:
        port = bench_gifts.free_port()
        gunicorn = bench_gifts.start_gunicorn(port, 4, metrics_dir)
        try:
            for label, request in (
                ("GET /healthz", b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"),
                ("POST /api/v1/gifts/send/", None),
            ):
                workers, _ = bench_gifts.server_pids(gunicorn)
                user, system = cpu_split(workers)
                if request is None:
                    _, answers, (workers_cpu, _, _) = asyncio.run(
                        bench_gifts.http_load(port, 32, args.seconds, 1.0, stream.pk, gift.pk, tokens, gunicorn)
                    )
                    count = sum(answers.values())
                else:
                    count, workers_cpu = asyncio.run(plain_load(port, 32, args.seconds, request, gunicorn))
                user_after, system_after = cpu_split(workers)
                user_share = (user_after - user) / max(user_after - user + system_after - system, 1e-9)
                print(
                    f"  {label}: {count / args.seconds:.0f}/s, workers {workers_cpu / max(count, 1) * 1e6:.0f} us CPU"
                    f" per request ({user_share:.0%} of it in user space, the rest in the kernel)",
                    flush=True,
                )
        finally:
            gunicorn.terminate()
            gunicorn.wait()
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}", flush=True)

    bench_gifts.psql("postgres", "-c", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


if __name__ == "__main__":
    main()
