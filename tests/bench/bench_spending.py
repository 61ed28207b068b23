"""Benchmark: a gift send with its spending controls, at the service level. A script, not a test.

Each thread is one sender (distinct senders, as real traffic: the controls lock only their own row)
for --seconds:
  1. ceiling: the wallet's bare one-statement transfer (`coins_spend`: no gift rules, no controls);
  2. controlled: `gift_send` of a 1-coin gift to one live stream (one statement: the gift rules, the
     controls' row lock and checks, the debit, entry, postings, the send and the tally).
It prints the load average before and after, sends/s of each, and the controlled rate as a ratio to
the ceiling measured in the same run.

    flock /tmp/halobuzz-bench.lock .venv/bin/python tests/bench/bench_spending.py [--threads 4] [--seconds 20]

Needs PostgreSQL and Redis on 127.0.0.1. It creates and drops the database halobuzz_bench_spending and
uses Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379/4). Every loop is bounded by --seconds.
"""

import argparse
import datetime
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "halobuzz_bench_spending"
ENV = {
    **os.environ,
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4"),
    "SECRET_KEY": "bench-only-secret-key-0123456789abcdef0123456789abcdef",
    "ALLOWED_HOSTS": "*",
    "CELERY_TASK_ALWAYS_EAGER": "true",
    "LOG_LEVEL": "WARNING",
    "MEDIA_STORAGE": "filesystem",
    "DJANGO_SETTINGS_MODULE": "halobuzz.settings",
}


def say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201


def psql(*args: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-v", "ON_ERROR_STOP=1", "-qAt", *args], check=True)


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prepare(threads: int):
    psql("-c", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql("-c", f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=ENV, check=True)
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import transaction

    from apps.accounts.models import User
    from apps.gifts.models import Gift
    from apps.gifts.services import gift_catalogue_invalidate, gift_send
    from apps.live.models import Stream
    from apps.wallet.models import Account
    from apps.wallet.services import ledger_post, platform_account

    adult = {"date_of_birth": datetime.date(1995, 1, 1), "age_verification": User.AgeVerification.VERIFIED}
    host = User.objects.create(username="bench_host", **adult)
    stream = Stream.objects.create(host=host, title="bench", status=Stream.Status.LIVE)
    gift = Gift.objects.create(name="Rose", coin_price=1)
    gift_catalogue_invalidate()
    senders = User.objects.bulk_create([User(username=f"bench_fan{i}", password="!", **adult) for i in range(threads)])
    accounts = Account.objects.bulk_create([Account(owner=u, kind=Account.Kind.USER_COINS) for u in senders])
    with transaction.atomic():
        ledger_post(
            kind="grant",
            ref="bench",
            postings=[(platform_account(kind=Account.Kind.ISSUANCE), -(10**9) * threads)]
            + [(a, 10**9) for a in accounts],
        )
    # the host's earnings and revenue accounts and each sender's controls row exist after a first send
    for sender in senders:
        gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1)
    return stream, gift, senders


def run(send, senders, seconds: float) -> float:
    from django.db import connection

    counts = [0] * len(senders)
    start = threading.Barrier(len(senders) + 1)
    stop_at: list[float] = []

    def worker(i: int) -> None:
        start.wait()
        while time.monotonic() < stop_at[0]:
            send(senders[i].pk)
            counts[i] += 1
        connection.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(len(senders))]
    for t in pool:
        t.start()
    stop_at.append(time.monotonic() + seconds)
    began = time.monotonic()
    start.wait()
    for t in pool:
        t.join()
    return sum(counts) / (time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    say(f"load average before: {load()}")
    stream, gift, senders = prepare(args.threads)
    from apps.gifts.services import gift_send
    from apps.wallet.services import coins_spend
    from apps.wallet.types import AccountKind

    def bare(sender_id: int) -> None:
        coins_spend(payer_id=sender_id, credits=[(None, AccountKind.REVENUE, 1)], kind="bench", ref=uuid.uuid4().hex)

    def controlled(sender_id: int) -> None:
        gift_send(sender_id=sender_id, stream_id=stream.pk, gift_id=gift.pk, quantity=1)

    ceiling = run(bare, senders, args.seconds)
    rate = run(controlled, senders, args.seconds)
    say(f"{args.threads} threads x {args.seconds:.0f} s each")
    say(f"ceiling (bare coins_spend):        {ceiling:8.0f} sends/s  (1.00)")
    say(f"gift_send (one statement):         {rate:8.0f} sends/s  ({rate / ceiling:.2f} of the ceiling)")
    say(f"load average after: {load()}")
    psql("-c", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
