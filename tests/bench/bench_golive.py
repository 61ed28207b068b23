"""Go-live alert benchmark: a host with many followers goes live; every follower's device gets a push
through the FCM sandbox over HTTP (token exchange, then messages:send), fanned out in Celery batches.

    flock /tmp/halobuzz-bench.lock env BENCH_REDIS_URL=redis://127.0.0.1:6379/4 \\
    .venv/bin/python tests/bench/bench_golive.py [--followers 100000] [--reuse]

In one run, on this machine:
1. the ceiling: the sandbox alone (gunicorn, --sandbox-workers sync workers), driven by as many client
   threads as the Celery workers have sends in flight (--celery-concurrency x FCM_SEND_CONCURRENCY),
   each holding an access token and posting messages:send -> accepted messages per second;
2. the alert: the host goes live (apps.live.services.stream_go_live); on commit the fan-out task
   splits the followers into NOTIFICATION_FANOUT_BATCH batches; Celery workers (--celery-concurrency
   processes) write the inbox items and push -> time from going live to the sandbox accepting the
   last message, sends per second, and their ratio to the ceiling.
Load averages are printed before and after; the machine is shared, so the ratio is what compares.

Figures: README, "Measured figures" (the 100,000-follower run, taken alone).
"""

import argparse
import datetime
import functools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
print = functools.partial(print, flush=True)  # noqa: A001  (figures appear as they are measured)
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "halobuzz_bench_golive"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
PROJECT = "halobuzz-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def psql(db: str, sql: str) -> str:
    out = subprocess.run(["psql", f"{PG}/{db}", "-qAtc", sql], capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"psql failed: {out.stderr}")
    return out.stdout.strip()


def environment(port: int, key_file: Path, concurrency: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS_URL,
        "DEPLOYMENT_NAME": "bench-golive",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdef0123456789abcdef",
        "ALLOWED_HOSTS": "*",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "WARNING",
        "MEDIA_STORAGE": "filesystem",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "FCM_SANDBOX_ENABLED": "true",
        "FCM_PROJECT_ID": PROJECT,
        "FCM_API_URL": f"http://127.0.0.1:{port}/sandbox/fcm",
        "FCM_CREDENTIALS_FILE": str(key_file),
        "FCM_SEND_CONCURRENCY": str(concurrency),
        "DJANGO_SETTINGS_MODULE": "halobuzz.settings",
    }


def prepare(followers: int, reuse: bool, env: dict[str, str]):
    exists = psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'") == "1"  # noqa: S608
    if not (reuse and exists):
        psql("postgres", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        psql("postgres", f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.notifications.models import Device

    adult = {"date_of_birth": datetime.date(1995, 1, 1), "age_verification": User.AgeVerification.VERIFIED}
    # Going live needs a verified phone.
    host, _ = User.objects.get_or_create(
        username="bench_host",
        defaults={"display_name": "Bench Host", "phone": "+9779810000001", "phone_verified_at": timezone.now()} | adult,
    )
    have = User.objects.filter(username__startswith="fan").count()
    started = time.monotonic()
    from django.db import connection

    for start in range(have, followers, 5000):
        end = min(start + 5000, followers)
        users = User.objects.bulk_create(
            [
                User(username=f"fan{i}", password="!", language="ne" if i % 3 == 0 else "en", **adult)
                for i in range(start, end)
            ]
        )
        with connection.cursor() as cursor:  # Follow is accounts' model: rows as its service would write
            cursor.executemany(
                "INSERT INTO accounts_follow (follower_id, followee_id, created_at) VALUES (%s, %s, now())",
                [(u.pk, host.pk) for u in users],
            )
        Device.objects.bulk_create([Device(user=u, token=f"bench-{u.pk}-token", platform="android") for u in users])
    if followers > have:
        print(f"created {followers - have} followers with a device each in {time.monotonic() - started:.1f} s")
    return host


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_http(port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the sandbox server did not start")


def ceiling(port: int, messages: int, threads: int) -> float:
    """The sandbox's own accept rate: messages:send from `threads` clients with one access token."""
    import requests
    from google.auth.transport.requests import Request

    from apps.notifications.fcm import fcm_session

    session = fcm_session()
    session.credentials.refresh(Request())
    bearer = {"Authorization": f"Bearer {session.credentials.token}"}
    url = f"http://127.0.0.1:{port}/sandbox/fcm/v1/projects/{PROJECT}/messages:send"
    per_thread = messages // threads
    errors: list[int] = []

    def client(n: int) -> None:
        http = requests.Session()
        for i in range(per_thread):
            body = {"message": {"token": f"ceiling-{n}-{i}", "notification": {"title": "t", "body": "b"}}}
            response = http.post(url, json=body, headers=bearer, timeout=30)
            if response.status_code != 200:
                errors.append(response.status_code)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    if errors:
        raise SystemExit(f"the ceiling run got {len(errors)} errors: {errors[:5]}")
    return per_thread * threads / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database of the last run")
    parser.add_argument("--sandbox-workers", type=int, default=4)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--send-concurrency", type=int, default=8, help="FCM_SEND_CONCURRENCY per worker process")
    parser.add_argument("--ceiling-messages", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    print(f"load average before: {load()}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-golive-"))
    port = free_port()
    key_file = tmp / "fcm-sandbox-service-account.json"
    env = environment(port, key_file, args.send_concurrency)
    host = prepare(args.followers, args.reuse, env)
    from django.core.cache import cache
    from django.db import transaction

    from apps.live.models import Stream
    from apps.live.services import stream_end, stream_go_live
    from apps.notifications.models import Device, Notification
    from apps.notifications.sandbox import state
    from apps.notifications.sandbox.keys import sandbox_key_write

    sandbox_key_write(key_file, token_uri=f"http://127.0.0.1:{port}/sandbox/fcm/token", project_id=PROJECT)
    gunicorn = start(
        [str(ROOT / ".venv/bin/gunicorn"), "halobuzz.wsgi:application", "-w", str(args.sandbox_workers)]
        + ["-b", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning"],
        env,
        tmp / "gunicorn.log",
    )
    worker = None
    try:
        wait_http(port)
        threads = args.celery_concurrency * args.send_concurrency
        rate_ceiling = ceiling(port, args.ceiling_messages, threads)
        print(f"ceiling: the sandbox alone accepts {rate_ceiling:,.0f} messages/s ({threads} clients)")
        # A clean slate: no dedupe claims or counters from the ceiling or an earlier run, no items.
        cache.clear()
        Notification.objects.all().delete()
        for stream_id in Stream.objects.filter(host=host, status__in=Stream.ACTIVE_STATUSES).values_list(
            "pk", flat=True
        ):
            stream_end(stream_id=stream_id, reason="bench")
        expected = Device.objects.filter(user__following_links__followee=host).count()
        worker = start(
            [str(ROOT / ".venv/bin/celery"), "-A", "halobuzz", "worker", "-Q", "celery"]
            + ["-c", str(args.celery_concurrency), "-l", "INFO", "--without-gossip", "--without-mingle"],
            env,
            tmp / "worker.log",
        )
        deadline = time.monotonic() + 120
        while "ready." not in (tmp / "worker.log").read_text():
            if time.monotonic() > deadline:
                raise SystemExit("the Celery worker did not start")
            time.sleep(0.3)
        load_start = load()
        went_live = time.time()
        with transaction.atomic():
            stream_go_live(host=host, title="Everyone come in")
        deadline = time.monotonic() + args.timeout
        while state.counts()["accepted"] < expected and time.monotonic() < deadline:
            time.sleep(0.25)
        accepted = state.counts()["accepted"]
        last = max((m["received_at"] for m in state.messages_recent(state.RECENT)), default=went_live)
        elapsed = last - went_live
        print(f"load average at go-live: {load_start}, after: {load()}")
        print(f"followers: {args.followers:,}; devices: {expected:,}; sandbox accepted: {accepted:,}")
        print(f"time from go-live to the last send: {elapsed:.1f} s")
        rate = accepted / elapsed
        print(f"sends/s: {rate:,.0f} (ceiling {rate_ceiling:,.0f}/s, ratio {rate / rate_ceiling:.2f}x)")
        exchanges = state.counts()["token_exchanges"]
        print(f"inbox items written: {Notification.objects.count():,}; token exchanges: {exchanges}")
    finally:
        for proc in (worker, gunicorn):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        print(f"load average after: {load()}  (logs in {tmp})")


if __name__ == "__main__":
    main()
