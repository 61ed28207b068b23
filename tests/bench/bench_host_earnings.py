"""Benchmark: a busy host's month of earnings, read and printed. A script, not a test.

One host, --streams streams spread over the current month (Nepal time) with --sends gift sends in
all, written through the real `gift_send` at their simulated times (the ledger is append-only, so
entries are written at those times rather than moved there). Then, --repeat times each:
  1. ceiling: the bare ledger sum of the same postings (one SELECT sum(amount) over the host's
     earnings account, joined to the entries, in the month);
  2. `host_earnings` for the month (per stream and per day, grouped in the database, plus the
     opening balance, the streams and the cash-outs);
  3. the PDF statement of that month (`statement_pdf`, from the selector's result).
It prints the load average before and after, the median milliseconds of each, and the selector's time
as a ratio to the ceiling measured in the same run.

    flock /tmp/halobuzz-bench.lock .venv/bin/python tests/bench/bench_host_earnings.py [--streams 60] [--sends 6000]

Needs PostgreSQL and Redis on 127.0.0.1. It creates and drops the database halobuzz_bench_earnings and
uses Redis at BENCH_REDIS_URL (default redis://127.0.0.1:6379/4).
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "halobuzz_bench_earnings"
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
    "SPENDING_DEFAULT_DAILY_LIMIT": str(10**12),
    "SPENDING_DEFAULT_MONTHLY_LIMIT": str(10**12),
}


def say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201


def psql(*args: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-v", "ON_ERROR_STOP=1", "-qAt", *args], check=True)


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median_ms(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def prepare(streams: int, sends: int):
    psql("-c", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql("-c", f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=ENV, check=True)
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.gifts.models import Gift
    from apps.gifts.services import gift_catalogue_invalidate, gift_send
    from apps.live.models import Stream
    from apps.wallet.models import Account
    from apps.wallet.services import ledger_post, platform_account

    adult = {"date_of_birth": datetime.date(1995, 1, 1), "age_verification": User.AgeVerification.VERIFIED}
    host = User.objects.create(username="bench_host", display_name="Bench Host", **adult)
    fans = User.objects.bulk_create([User(username=f"bench_fan{i}", password="!", **adult) for i in range(20)])
    accounts = Account.objects.bulk_create([Account(owner=u, kind=Account.Kind.USER_COINS) for u in fans])
    ledger_post(
        kind="grant",
        ref="bench",
        postings=[(platform_account(kind=Account.Kind.ISSUANCE), -(10**9) * len(fans))]
        + [(a, 10**9) for a in accounts],
    )
    gift = Gift.objects.create(name="Momo", coin_price=20)
    gift_catalogue_invalidate()
    month_start = datetime.datetime.combine(
        timezone.localdate().replace(day=1), datetime.time(), tzinfo=timezone.get_current_timezone()
    )
    elapsed = timezone.now() - month_start
    per_stream = max(1, sends // streams)
    for i in range(streams):
        at = month_start + elapsed * i / streams
        with mock.patch.object(timezone, "now", return_value=at):
            stream = Stream.objects.create(host=host, title=f"Bench {i}", status=Stream.Status.LIVE, started_at=at)
            for j in range(per_stream):
                gift_send(sender_id=fans[j % len(fans)].pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1 + j % 3)
            Stream.objects.filter(pk=stream.pk).update(status=Stream.Status.ENDED, ended_at=at)
    return host, per_stream * streams


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=60)
    parser.add_argument("--sends", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    say(f"load average before: {load()}")
    host, written = prepare(args.streams, args.sends)
    from django.db import connection
    from django.utils import timezone

    from apps.hosts.apis import month_period
    from apps.hosts.selectors import host_earnings
    from apps.hosts.statements import statement_pdf
    from apps.wallet.selectors import earnings_account_id

    period = month_period(f"{timezone.localdate():%Y-%m}")
    account_id = earnings_account_id(host_id=host.pk)

    def bare() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sum(p.amount) FROM wallet_posting p JOIN wallet_journalentry e ON e.id = p.entry_id"
                " WHERE p.account_id = %s AND e.created_at >= %s AND e.created_at < %s",
                [account_id, period.since, period.until],
            )
            cursor.fetchone()

    earnings = host_earnings(host=host, period=period)
    assert earnings.totals["gift_sends"] == written, earnings.totals
    ceiling = median_ms(bare, args.repeat)
    selector = median_ms(lambda: host_earnings(host=host, period=period), args.repeat)
    pdf = median_ms(lambda: statement_pdf(host_earnings(host=host, period=period)), max(3, args.repeat // 4))
    say(f"{args.streams} streams, {written} gift sends this month; median of {args.repeat} runs")
    say(f"ceiling (bare ledger sum of the month):   {ceiling:8.1f} ms  (1.00)")
    say(f"host_earnings (per stream and day):       {selector:8.1f} ms  ({ceiling / selector:.2f} of the ceiling)")
    say(f"host_earnings + statement_pdf:            {pdf:8.1f} ms")
    say(f"load average after: {load()}")
    psql("-c", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
