"""Benchmark: reading GET /api/v1/streams/active (first page, 20 rows) at 10, 1,000 and 10,000 live streams.

A script, not a test. gunicorn sync workers + PostgreSQL + Redis are started here on a free port with a
database of their own; for each number of live streams it measures, with the same concurrent clients:
  - /healthz on the same gunicorn: the ceiling of this server on this machine in this run;
  - the list, cached: the shared first page (LIVE_ACTIVE_CACHE_SECONDS) answers most requests;
  - the list, uncached: each request first bumps the list's generation (as a stream going live does),
    so it ranks the live streams in PostgreSQL and builds its page;
and prints requests/s, p50/p95 latency, and each rate as a share of the /healthz ceiling, with the load
average before and after (the machine is shared: compare ratios, not absolutes).

    .venv/bin/python tests/bench/bench_streams_active.py [--sizes 10,1000,10000] [--seconds 10] [--clients 8]

Needs PostgreSQL and Redis on 127.0.0.1 (deploy/bin/services). It creates and drops the database
halobuzz_bench_active and flushes the Redis database BENCH_REDIS_URL (default redis://127.0.0.1:6379/3).
Every loop is bounded by --seconds; only 127.0.0.1 is contacted.
"""

import argparse
import datetime
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "halobuzz_bench_active"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")

ENV = {
    **os.environ,
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-only-secret-key-0123456789abcdef0123456789abcdef",
    "ALLOWED_HOSTS": "*",
    "SECURE_SSL_REDIRECT": "false",
    "CELERY_TASK_ALWAYS_EAGER": "true",
    "LOG_LEVEL": "WARNING",
    "THROTTLE_USER": "10000000/min",
    "THROTTLE_ANON": "10000000/min",
    "MEDIA_STORAGE": "filesystem",
    "DJANGO_SETTINGS_MODULE": "halobuzz.settings",
}


def say(text: str = "") -> None:
    print(text, flush=True)


def loadavg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def psql(db: str, sql: str) -> None:
    subprocess.run(["psql", f"{PG}/{db}", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], check=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare() -> None:
    psql("postgres", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL
    )
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def fill(live: int) -> str:
    """Exactly `live` live streams (each its own host, varied counts) and a viewer; the viewer's token."""
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.models import User
    from apps.live.models import Category, Stream
    from apps.live.selectors import active_cache_clear

    Stream.objects.all().delete()
    User.objects.all().delete()
    adult = {"date_of_birth": datetime.date(1995, 1, 1), "age_verification": User.AgeVerification.VERIFIED}
    viewer = User.objects.create(username="bench_viewer", display_name="Viewer", **adult)
    hosts = User.objects.bulk_create(
        [User(username=f"host{i}", display_name=f"Host {i}", password="!", **adult) for i in range(live)],
        batch_size=2000,
    )
    now = timezone.now()
    for slug in ("music", "talk", "gaming"):
        Category.objects.get_or_create(slug=slug, defaults={"name_en": slug.title(), "name_ne": slug})
    Stream.objects.bulk_create(
        [
            Stream(
                host=h,
                title=f"Show {i}",
                category_id=("music", "talk", "gaming")[i % 3],
                status=Stream.Status.LIVE,
                started_at=now,
                last_heartbeat_at=now,
                current_viewers=(i * 7919) % 5000,
            )
            for i, h in enumerate(hosts)
        ],
        batch_size=2000,
    )
    psql(DB_NAME, "VACUUM ANALYZE live_stream")
    active_cache_clear()
    return str(AccessToken.for_user(viewer))


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "halobuzz.wsgi:application", "-w", str(workers)]
        + ["-b", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning"],
        cwd=ROOT,
        env=ENV,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:  # noqa: S310
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def load(url: str, token: str | None, clients: int, seconds: float, before_each=None) -> tuple[float, list[float]]:
    """`clients` threads GET `url` for `seconds`: (requests/s answered 200, latencies in ms)."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        while time.monotonic() < stop_at:
            if before_each:
                before_each()
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:  # noqa: S310
                    resp.read()
                    ok = resp.status == 200
            except OSError:
                ok = False
            with lock:
                if ok:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    failures[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures[0]:
        say(f"    ({failures[0]} requests failed)")
    return len(latencies) / seconds, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,1000,10000", help="numbers of live streams, comma-separated")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds of each load")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    say(f"HaloBuzz streams/active benchmark on {os.cpu_count()} cores, {loadavg()}")
    prepare()
    import redis
    from django.core.cache import cache

    from apps.live.selectors import _GENERATION_KEY

    generation = cache.make_key(_GENERATION_KEY)
    bump_client = redis.Redis.from_url(REDIS_URL)

    def bump() -> None:  # what a stream going live does: the next first page ranks afresh
        bump_client.incr(generation)

    port = free_port()
    server = start_gunicorn(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for size in sizes:
            token = fill(size)
            load(f"{base}/api/v1/streams/active?limit=20", token, 2, 1)  # warm the workers
            say(f"\n{size} live streams, {args.clients} clients, gunicorn {args.workers} sync workers ({loadavg()})")
            ceiling, lat = load(f"{base}/healthz", None, args.clients, args.seconds)
            say(
                f"  /healthz            {ceiling:8.0f} req/s  p50 {percentile(lat, 50):6.1f} ms  "
                f"p95 {percentile(lat, 95):6.1f} ms"
            )
            for name, hook in (("cached", None), ("uncached", bump)):
                rate, lat = load(f"{base}/api/v1/streams/active?limit=20", token, args.clients, args.seconds, hook)
                share = rate / ceiling if ceiling else 0.0
                say(
                    f"  active, {name:8}   {rate:8.0f} req/s  p50 {percentile(lat, 50):6.1f} ms  "
                    f"p95 {percentile(lat, 95):6.1f} ms  = {share:.2f} x /healthz"
                )
                rows.append((size, name, rate, share))
    finally:
        server.terminate()
        server.wait(timeout=30)
        bump_client.close()
    say("\nsummary (share of the /healthz ceiling of the same run):")
    for size, name, rate, share in rows:
        say(f"  {size:>6} live  {name:8}  {rate:8.0f} req/s  {share:.2f}")
    say(f"\n{loadavg()} (the machine is shared: compare ratios, not absolutes)")
    psql("postgres", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
