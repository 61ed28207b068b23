"""Benchmark: serving gift recommendations, and the model's hit-rate against popularity.

A script, not a test. It prints its figures:
  1. the evaluation (hit-rate@5 on the latest 20% of sends, time split) for the model and for the
     popularity baseline, on synthetic history made through the real gift service;
  2. training time;
  3. serving latency p50/p95/p99: the service call (`gift_recommendations`) and the whole HTTP
     request in-process through Django's WSGI handler (JWT auth, middleware, DRF, JSON), for
     senders with history (the model path) and new senders (popularity), with queries per request.

    .venv/bin/python tests/bench/bench_recommender.py [--sends 4000] [--requests 2000]

Needs PostgreSQL and Redis on 127.0.0.1 (deploy/bin/services). It creates and drops the database
halobuzz_bench_reels and flushes Redis db BENCH_REDIS_DB (default 9). Only 127.0.0.1 is contacted.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "halobuzz_bench_reels"
MEDIA = tempfile.mkdtemp(prefix="bench-reels-media-")
os.environ.update(
    {
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '9')}",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdef0123456789abcdef",
        "ALLOWED_HOSTS": "*",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER": "1000000/min",
        "MEDIA_STORAGE": "filesystem",  # the model files on this run's own disk folder
        "MEDIA_ROOT": MEDIA,
        "PRIVATE_MEDIA_ROOT": MEDIA,
        "DJANGO_SETTINGS_MODULE": "halobuzz.settings",
    }
)
sys.path.insert(0, str(ROOT))


def say(text: str = "") -> None:
    print(text, flush=True)


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100)
    return f"p50 {q[49]:6.2f} ms   p95 {q[94]:6.2f} ms   p99 {q[98]:6.2f} ms   (n={len(ms)})"


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def drop_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=4000)
    parser.add_argument("--fans", type=int, default=80)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database afterwards.")
    args = parser.parse_args()

    recreate_database()
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.accounts.models import User
    from apps.accounts.services import tokens_issue
    from apps.gifts import recommender
    from apps.gifts.demo import catalogue_seed as seed_catalogue
    from apps.gifts.gift_history import FAN_PREFIX, HOST_PREFIX, gift_history_generate
    from apps.live.selectors import stream_get
    from apps.live.services import stream_go_live, stream_stats_update

    try:
        call_command("migrate", verbosity=0)
        cache.clear()
        seed_catalogue(out=lambda _: None)
        admin = User.objects.create_superuser("bench-admin", "bench-admin@bench.local", None)
        started = time.perf_counter()
        stats = gift_history_generate(fans=args.fans, hosts=8, days=40, sends=args.sends, granted_by=admin)
        say(
            f"synthetic history: {stats.sends} sends, {stats.sessions} sessions ({time.perf_counter() - started:.0f} s)"
        )

        result = recommender.recommender_evaluate(test_share=0.2)
        say()
        say("== evaluation (time split: latest 20% of sends held out)")
        say(f"train sends {result.train_sends}, held-out sends {result.test_sends}")
        say(f"hit-rate@5  model {result.model_hit_rate:.3f}   popularity baseline {result.baseline_hit_rate:.3f}")

        started = time.perf_counter()
        model = recommender.recommender_train()
        say()
        say(
            f"== training: {model.examples} examples in {time.perf_counter() - started:.2f} s (version {model.version})"
        )

        host = User.objects.get(username=f"{HOST_PREFIX}001")
        stream = stream_go_live(host=host, title="bench")
        stream_stats_update(stream_id=stream.pk, viewers=250)
        stream = stream_get(stream_id=stream.pk)
        fans = list(User.objects.filter(username__startswith=FAN_PREFIX))
        newcomers = [User.objects.create_user(f"bench-new-{i}", f"bench-new-{i}@bench.local", None) for i in range(20)]
        rng = random.Random(5)

        recommender.gift_recommendations(user_id=fans[0].pk, stream=stream)  # load the model once
        say()
        say("== serving, service call (gift_recommendations)")
        for label, users in (("senders with history", fans), ("new senders (popularity)", newcomers)):
            samples = []
            cpu0 = time.process_time()
            for _ in range(args.requests):
                user = rng.choice(users)
                t0 = time.perf_counter()
                recommender.gift_recommendations(user_id=user.pk, stream=stream)
                samples.append(time.perf_counter() - t0)
            cpu = (time.process_time() - cpu0) / args.requests * 1000
            say(f"{label:28s} {percentiles(samples)}   cpu {cpu:.2f} ms/call")

        say()
        say("== serving, HTTP in-process (WSGI handler, JWT, DRF): GET /api/v1/gifts/recommendations/")
        for label, users in (("senders with history", fans), ("new senders (popularity)", newcomers)):
            clients = {}
            for user in users:
                client = Client()
                client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {tokens_issue(user=user)['access']}"
                clients[user.pk] = client
            samples = []
            queries = 0
            cpu0 = time.process_time()
            for i in range(args.requests):
                client = clients[rng.choice(users).pk]
                with CaptureQueriesContext(connection) as captured:
                    t0 = time.perf_counter()
                    response = client.get("/api/v1/gifts/recommendations/", {"stream": stream.pk})
                    samples.append(time.perf_counter() - t0)
                assert response.status_code == 200, response.content
                if i == 0:
                    body = response.json()
                    say(f"  sample answer: source={body['source']} gifts={[g['name'] for g in body['gifts']]}")
                queries += len(captured)
                reset_queries()
            cpu = (time.process_time() - cpu0) / args.requests * 1000
            per_request = queries / args.requests
            say(f"{label:28s} {percentiles(samples)}   cpu {cpu:.2f} ms/req   {per_request:.1f} queries/req")
        say()
        say(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        say("Wall-clock figures move with whatever else runs on the machine; cpu/call does much less.")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()
