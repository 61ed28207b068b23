"""Benchmark: search (GET /api/v1/search/users/, /reels/ and the combined /search/) on 100,000 users and
100,000 reels, in Devanagari and romanised Nepali.

A script, not a test. It creates a database of its own, seeds it (bulk_create in batches: names and
captions drawn from Nepali words, half in Devanagari and half romanised, with the spellings people
type, #hashtags in captions; a few percent of the users deactivated or banned and of the reels not
published; a tenth of 20,000 streams live), prints the query plans of the three searches (which
indexes they use), then measures:
  - selector level: the first page (20 rows) of each search in this process, p50/p95 per query mix;
  - over HTTP: gunicorn sync workers on production settings, /healthz on the same gunicorn first
    (the ceiling of this server on this machine in this run), then each search endpoint, with the
    same concurrent clients; requests/s, p50/p95, and the rate as a share of /healthz. Twice: latency
    with one client per core (requests do not queue behind each other), then throughput with more;
with the load average before and after (the machine is shared: compare ratios, not absolutes).
The goal: p95 under 50 ms.

    .venv/bin/python tests/bench/bench_search.py [--users 100000] [--reels 100000] [--streams 20000]
        [--seconds 10] [--latency-clients CORES] [--clients 8]

Needs PostgreSQL and Redis on 127.0.0.1. It creates and drops the database halobuzz_bench_search and
flushes the Redis database BENCH_REDIS_URL (default redis://127.0.0.1:6379/3). Only 127.0.0.1 is contacted.
"""

import argparse
import datetime
import itertools
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import bench_streams_active as common  # noqa: E402  (its server, load and percentile helpers)

DB_NAME = "halobuzz_bench_search"
common.DB_NAME = DB_NAME
common.ENV["DATABASE_URL"] = f"{common.PG}/{DB_NAME}"
common.ENV["THROTTLE_SEARCH"] = "10000000/min"
say, loadavg, percentile = common.say, common.loadavg, common.percentile

# Given names and family names as written in Devanagari, and the ways they are typed in Latin letters.
FIRST = [
    ("सीता", ["Sita", "Seeta"]),
    ("राम", ["Ram"]),
    ("दीपक", ["Deepak", "Dipak"]),
    ("अनिता", ["Anita"]),
    ("सुनिता", ["Sunita", "Suneeta"]),
    ("विकास", ["Bikash", "Vikas"]),
    ("प्रकाश", ["Prakash"]),
    ("सरिता", ["Sarita"]),
    ("कृष्ण", ["Krishna"]),
    ("गीता", ["Geeta", "Gita"]),
    ("सन्तोष", ["Santosh"]),
    ("माया", ["Maya"]),
    ("रमेश", ["Ramesh"]),
    ("सुजन", ["Sujan"]),
    ("प्रिया", ["Priya"]),
    ("आशिष", ["Ashish", "Aashish"]),
    ("निर्मला", ["Nirmala"]),
    ("बिनोद", ["Binod", "Vinod"]),
    ("कमला", ["Kamala"]),
    ("सागर", ["Sagar"]),
    ("पूजा", ["Puja", "Pooja"]),
    ("हरि", ["Hari"]),
    ("लक्ष्मी", ["Laxmi", "Lakshmi"]),
    ("रोशन", ["Roshan"]),
    ("सविना", ["Sabina"]),
    ("अर्जुन", ["Arjun"]),
    ("शान्ति", ["Shanti", "Santi"]),
    ("दिनेश", ["Dinesh"]),
    ("मनिषा", ["Manisha"]),
    ("विजय", ["Bijay", "Vijay"]),
]
FAMILY = [
    ("श्रेष्ठ", ["Shrestha", "Shreshtha"]),
    ("गुरुङ", ["Gurung"]),
    ("तामाङ", ["Tamang"]),
    ("थापा", ["Thapa"]),
    ("अधिकारी", ["Adhikari"]),
    ("पौडेल", ["Poudel", "Paudel"]),
    ("राई", ["Rai"]),
    ("मगर", ["Magar"]),
    ("शर्मा", ["Sharma"]),
    ("केसी", ["KC"]),
    ("भट्टराई", ["Bhattarai"]),
    ("लामा", ["Lama"]),
    ("कार्की", ["Karki"]),
    ("महर्जन", ["Maharjan"]),
    ("खड्का", ["Khadka"]),
]
WORDS = [
    ("नमस्ते", ["namaste", "namastee"]),
    ("साथी", ["sathi", "saathi"]),
    ("दाइ", ["dai"]),
    ("दिदी", ["didi"]),
    ("माया", ["maya"]),
    ("गीत", ["geet", "git"]),
    ("नाच", ["nach", "naach"]),
    ("आज", ["aaja", "aja"]),
    ("राम्रो", ["ramro"]),
    ("खाना", ["khana"]),
    ("मोमो", ["momo"]),
    ("चिया", ["chiya"]),
    ("पहाड", ["pahad"]),
    ("हिमाल", ["himal"]),
    ("गाउँ", ["gaun"]),
    ("शहर", ["sahar", "shahar"]),
    ("रमाइलो", ["ramailo"]),
    ("धन्यवाद", ["dhanyabad", "dhanyawad"]),
    ("बिहान", ["bihana"]),
    ("बेलुका", ["beluka"]),
]
TAGS = [
    ("#दशैं", "#dashain"),
    ("#तिहार", "#tihar"),
    ("#काठमाडौं", "#kathmandu"),
    ("#पोखरा", "#pokhara"),
    ("#नेपाल", "#nepal"),
    ("#मोमो", "#momo"),
    ("#गीत", "#song"),
    ("#नाच", "#dance"),
    ("#हिमाल", "#himalaya"),
    ("#trending", "#viral"),
]
# The queries the clients send in turn: both scripts, typed variants, prefixes, hashtags, misses.
USER_QUERIES = ["sita", "श्रेष्ठ", "deepak", "दीपक", "gurung", "laxmi thapa", "pooja", "shres", "विकास", "zzzqx"]
REEL_QUERIES = ["namaste", "नमस्ते", "#dashain", "momo", "साथी", "pokhara", "ramro khana", "namastee", "हिमाल", "zzzqx"]


def _name(rng: random.Random) -> str:
    first, first_typed = rng.choice(FIRST)
    family, family_typed = rng.choice(FAMILY)
    if rng.random() < 0.5:
        return f"{first} {family}"
    return f"{rng.choice(first_typed)} {rng.choice(family_typed)}"


def _caption(rng: random.Random) -> str:
    devanagari = rng.random() < 0.5
    words = [w if devanagari else rng.choice(typed) for w, typed in rng.sample(WORDS, rng.randint(3, 7))]
    tags = [tag[0] if devanagari and rng.random() < 0.7 else tag[1] for tag in rng.sample(TAGS, rng.randint(1, 3))]
    return " ".join(words + tags)


def seed(users: int, reels: int, streams: int) -> str:
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.models import User
    from apps.core.search import search_text
    from apps.live.models import Stream
    from apps.reels.models import Reel

    rng = random.Random(21)
    adult = {"date_of_birth": datetime.date(1995, 1, 1), "age_verification": User.AgeVerification.VERIFIED}
    viewer = User.objects.create(username="bench_viewer", display_name="Viewer", **adult)
    started = time.perf_counter()
    banned_until = timezone.now() + datetime.timedelta(days=30)
    batch = 5000
    author_ids: list[int] = []
    for start in range(0, users, batch):
        rows = []
        for i in range(start, min(users, start + batch)):
            name = _name(rng)
            username = f"{search_text(name).replace(' ', '_')}_{i}"
            roll = rng.random()
            rows.append(
                User(
                    username=username,
                    display_name=name,
                    password="!",
                    search_text=search_text(username, name),
                    is_active=roll >= 0.02,  # 2% deleted or deactivated
                    banned_until=banned_until if 0.02 <= roll < 0.03 else None,  # 1% banned
                    **adult,
                )
            )
        author_ids += [u.pk for u in User.objects.bulk_create(rows)]
    say(f"  {users} users in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    now = timezone.now()
    statuses = [Reel.Status.PUBLISHED] * 95 + [Reel.Status.PROCESSING] * 2 + [Reel.Status.DELETED] * 3
    for start in range(0, reels, batch):
        rows = []
        for _ in range(start, min(reels, start + batch)):
            caption = _caption(rng)
            rows.append(
                Reel(
                    author_id=rng.choice(author_ids),
                    caption=caption,
                    search_text=search_text(caption),
                    video="reels/videos/bench.mp4",
                    content_type="video/mp4",
                    size_bytes=1000,
                    status=rng.choice(statuses),
                    published_at=now,
                    likes_count=int(rng.paretovariate(1.2)) - 1,
                    views_count=rng.randint(0, 5000),
                )
            )
        Reel.objects.bulk_create(rows)
    say(f"  {reels} reels in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    hosts = rng.sample(author_ids, streams)
    titles = [w for w, _ in WORDS] + [t for _, typed in WORDS for t in typed]
    for start in range(0, streams, batch):
        rows = []
        for i, host in enumerate(
            User.objects.filter(pk__in=hosts[start : start + batch]).only("username", "display_name")
        ):
            title = " ".join(rng.sample(titles, 3))
            live = (start + i) % 10 == 0  # a tenth live, the rest ended (never searched)
            rows.append(
                Stream(
                    host=host,
                    title=title,
                    search_text=search_text(title, host.username, host.display_name),
                    status=Stream.Status.LIVE if live else Stream.Status.ENDED,
                    started_at=now,
                    current_viewers=rng.randint(0, 5000) if live else 0,
                )
            )
        Stream.objects.bulk_create(rows)
    say(f"  {streams} streams ({streams // 10} live) in {time.perf_counter() - started:.1f} s")
    for table in ("accounts_user", "reels_reel", "live_stream"):
        common.psql(DB_NAME, f"VACUUM ANALYZE {table}")
    return str(AccessToken.for_user(viewer))


def searches():
    from apps.accounts.search import user_search
    from apps.live.search import stream_search
    from apps.reels.search import reel_search

    return {
        "users": (user_search, USER_QUERIES),
        "streams": (stream_search, USER_QUERIES),
        "reels": (reel_search, REEL_QUERIES),
    }


def plans() -> None:
    """Each statement a search sends (the count, the reads in popularity order, the ranking), explained
    as it runs (EXPLAIN ANALYZE under the same planner settings): the indexes used and the time."""
    from django.db import connection

    from apps.accounts.models import User
    from apps.core.pagination import SearchCursorPagination
    from apps.core.search import search_terms

    viewer = User.objects.get(username="bench_viewer")
    explained: list[str] = []

    def explain(execute, sql, params, many, context):
        # a read under planner settings comes as "SET LOCAL ...; SELECT ..." (apps.core.search.planned_rows)
        sets, _, statement = sql.rpartition("; ") if sql.startswith("SET LOCAL") else ("", "", sql)
        if statement.startswith("SELECT"):
            with connection.cursor() as cursor:
                cursor.execute(f"{sets}{'; ' if sets else ''}EXPLAIN ANALYZE {statement}", params)
                while cursor.description is None and cursor.nextset():
                    pass
                plan = "\n".join(row[0] for row in cursor.fetchall())
            used = sorted({word for word in plan.replace("(", " ").split() if word.endswith("_idx")})
            took = [line.split(":")[1].strip() for line in plan.splitlines() if "Execution Time" in line]
            explained.append(f"{'+'.join(used) or 'no index'} {took[0] if took else ''}")
        return execute(sql, params, many, context)

    for kind, (search, queries) in searches().items():
        for query in (queries[0], queries[1], queries[-1]):
            explained.clear()
            with connection.execute_wrapper(explain):
                qs = search(viewer=viewer, terms=search_terms(query)).order_by(*SearchCursorPagination.ordering)
                list(qs[:21])
            say(f"  {kind:7} {query!r:14} " + "; ".join(explained))


def selector_level(rounds: int) -> list[tuple[str, float, float]]:
    from apps.accounts.models import User
    from apps.core.pagination import SearchCursorPagination
    from apps.core.search import search_terms

    viewer = User.objects.get(username="bench_viewer")
    rows = []
    for kind, (search, queries) in searches().items():
        latencies = []
        per_query: dict[str, list[float]] = {}
        for query in itertools.islice(itertools.cycle(queries), rounds):
            started = time.perf_counter()
            terms = search_terms(query)
            list(search(viewer=viewer, terms=terms).order_by(*SearchCursorPagination.ordering)[:21])
            took = (time.perf_counter() - started) * 1000
            latencies.append(took)
            per_query.setdefault(query, []).append(took)
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        say(f"  {kind:7} first page of 20, {rounds} queries   p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
        say("          by query (p50 ms): " + ", ".join(f"{q} {percentile(v, 50):.0f}" for q, v in per_query.items()))
        rows.append((kind, p50, p95))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--reels", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds of each load")
    parser.add_argument("--streams", type=int, default=20_000, help="streams, a tenth of them live")
    parser.add_argument(
        "--latency-clients",
        type=int,
        default=os.cpu_count() or 2,
        help="concurrent HTTP clients for latency (default: one per core, so requests do not queue)",
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients for throughput")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--rounds", type=int, default=300, help="selector-level queries per kind")
    parser.add_argument("--keep", action="store_true", help="keep the database, and reuse one kept before")
    args = parser.parse_args()

    say(f"HaloBuzz search benchmark on {os.cpu_count()} cores, {loadavg()}")
    if args.keep and _kept():
        token = _token()
    else:
        common.prepare()
        say(f"seeding ({loadavg()})")
        token = seed(args.users, args.reels, args.streams)
    say(f"\nquery plans (EXPLAIN ANALYZE, first page), {loadavg()}")
    plans()
    say(f"\nselector level (this process, PostgreSQL), {loadavg()}")
    selector = selector_level(args.rounds)

    from urllib.parse import quote

    port = common.free_port()
    server = start_gunicorn(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    endpoints = [
        ("users", "/api/v1/search/users/", USER_QUERIES),
        ("streams", "/api/v1/search/streams/", USER_QUERIES),
        ("reels", "/api/v1/search/reels/", REEL_QUERIES),
        ("top", "/api/v1/search/", USER_QUERIES + REEL_QUERIES),
    ]
    rows = []
    try:
        common.load(f"{base}/api/v1/search/users/?q=sita", token, 2, 1)  # warm the workers
        for phase, clients in (("latency", args.latency_clients), ("throughput", args.clients)):
            say(f"\nHTTP {phase}: {clients} clients, gunicorn {args.workers} sync workers ({loadavg()})")
            ceiling, lat = common.load(f"{base}/healthz", None, clients, args.seconds)
            p50, p95 = percentile(lat, 50), percentile(lat, 95)
            say(f"  /healthz        {ceiling:8.0f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
            for name, path, queries in endpoints:
                # Each client request takes the next query of the mix (the URL list is cycled by all threads).
                urls = itertools.cycle([f"{base}{path}?q={quote(q)}" for q in queries])
                rate, lat = _load_mix(urls, token, clients, args.seconds)
                share = rate / ceiling if ceiling else 0.0
                p50, p95 = percentile(lat, 50), percentile(lat, 95)
                figures = f"{rate:8.0f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms"
                say(f"  search {name:7}  {figures}  = {share:.2f} x /healthz")
                rows.append((phase, clients, name, rate, p50, p95, share))
    finally:
        server.terminate()
        server.wait(timeout=30)
    say("\nsummary (goal: p95 under 50 ms):")
    for kind, p50, p95 in selector:
        say(f"  selector {kind:7}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    for phase, clients, name, rate, p50, p95, share in rows:
        say(
            f"  http {clients:2} clients {name:7}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  {rate:6.0f} req/s"
            f" = {share:.2f} x /healthz ({phase})"
        )
    say(f"\n{loadavg()} (the machine is shared: compare ratios, not absolutes)")
    if not args.keep:
        common.psql("postgres", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    return 0


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    """As bench_streams_active starts it, waiting longer: on a busy machine four workers take a while."""
    import urllib.request

    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "halobuzz.wsgi:application", "-w", str(workers)]
        + ["-b", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning"],
        cwd=ROOT,
        # the static files are not collected here (whitenoise warns once per worker)
        env={**common.ENV, "PYTHONWARNINGS": "ignore:No directory at"},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:  # noqa: S310
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def _kept() -> bool:
    found = subprocess.run(
        ["psql", f"{common.PG}/postgres", "-qAt", "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"],  # noqa: S608  (a constant)
        capture_output=True,
        text=True,
    )
    if found.stdout.strip() != "1":
        return False
    os.environ.update(common.ENV)
    import django

    django.setup()
    return True


def _token() -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.accounts.models import User

    return str(AccessToken.for_user(User.objects.get(username="bench_viewer")))


def _load_mix(urls, token: str, clients: int, seconds: float) -> tuple[float, list[float]]:
    import threading
    import urllib.request

    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < stop_at:
            with lock:
                url = next(urls)
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


if __name__ == "__main__":
    sys.exit(main())
