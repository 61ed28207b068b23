"""Backup and restore round trip, and the wallet audit published as metrics.

The ledger is written through apps.wallet.services (grants, gift-like spends), dumped with
deploy/backup/backup.sh, restored by deploy/backup/restore.sh into a NEW database, and audited there
with `manage.py wallet_audit` running against DATABASE_URL of the restored copy.
"""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.db.models import Sum
from prometheus_client.parser import text_string_to_metric_families

from apps.wallet.models import Account, JournalEntry, Posting
from apps.wallet.selectors import ledger_audit
from apps.wallet.services import account_for_user, coins_spend
from tests.accounts.factories import UserFactory
from tests.wallet.factories import fund

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("pg_dump"), reason="PostgreSQL client tools not installed"),
]


def database_url(name: str) -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def run(args: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False
    )


def ledger_snapshot_sql(url: str) -> dict:
    with psycopg.connect(url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "entries": one("SELECT count(*) FROM wallet_journalentry"),
            "postings": one("SELECT count(*) FROM wallet_posting"),
            "unapplied": one("SELECT count(*) FROM wallet_posting WHERE NOT applied"),
            "balances": dict(conn.execute("SELECT id, balance FROM wallet_account ORDER BY id").fetchall()),
            "sum": one("SELECT coalesce(sum(amount), 0) FROM wallet_posting"),
        }


@pytest.fixture
def restored_db():
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_a_dump_restores_into_a_fresh_database_with_the_ledger_intact(tmp_path, restored_db):
    # given users with granted coins and gift-like spends (host credits appended, not yet rolled up)
    hosts = [UserFactory() for _ in range(2)]
    viewers = [UserFactory() for _ in range(4)]
    for viewer in viewers:
        fund(viewer, 1_000)
    for i, viewer in enumerate(viewers):
        for n in range(3):
            coins_spend(
                payer_id=viewer.pk,
                credits=[(hosts[i % 2].pk, Account.Kind.HOST_EARNINGS, 35), (None, Account.Kind.REVENUE, 15)],
                kind="gift",
                ref=f"backup-test-{viewer.pk}-{n}",
                created_by_id=viewer.pk,
            )
    assert ledger_audit() == []
    source = database_url(connection.settings_dict["NAME"])
    before = ledger_snapshot_sql(source)
    assert before["unapplied"] > 0 and before["entries"] == 4 + 12

    # when it is dumped and restored into a new database
    backup = run(["deploy/backup/backup.sh", str(tmp_path)], DATABASE_URL=source)
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip().splitlines()[-1])
    assert dump.exists() and dump.stat().st_size > 0
    target = database_url(restored_db)
    restore = run(["deploy/backup/restore.sh", str(dump), target, "--audit"], PYTHON=sys.executable)

    # then the restored copy passes the audit and holds exactly the same ledger
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "wallet audit passed" in restore.stdout
    assert ledger_snapshot_sql(target) == before
    viewer_account = account_for_user(user_id=viewers[0].pk)
    assert ledger_snapshot_sql(target)["balances"][viewer_account.pk] == 1_000 - 3 * 50


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_an_existing_database(tmp_path):
    source = database_url(connection.settings_dict["NAME"])
    backup = run(["deploy/backup/backup.sh", str(tmp_path)], DATABASE_URL=source)
    assert backup.returncode == 0, backup.stderr
    dump = backup.stdout.strip().splitlines()[-1]
    refused = run(["deploy/backup/restore.sh", dump, source])
    assert refused.returncode != 0
    assert "already exists" in refused.stderr


def audit_metrics(path: Path) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(path.read_text())
        for sample in family.samples
    }


@pytest.mark.django_db(transaction=True)
def test_wallet_audit_metrics_report_a_sound_and_a_broken_ledger(tmp_path):
    viewer = UserFactory()
    fund(viewer, 500)
    metrics_file = tmp_path / "wallet.prom"
    script = ["deploy/ops/wallet_audit_metrics.py", "--metrics-file", str(metrics_file)]
    test_db = database_url(connection.settings_dict["NAME"])
    sound = run([sys.executable, *script], DATABASE_URL=test_db)
    assert sound.returncode == 0, sound.stderr
    values = audit_metrics(metrics_file)
    assert values["halobuzz_wallet_audit_ok"] == 1 and values["halobuzz_wallet_audit_problems"] == 0
    assert values["halobuzz_wallet_audit_entries"] == JournalEntry.objects.count()
    assert values["halobuzz_wallet_audit_postings"] == Posting.objects.count()
    assert values["halobuzz_wallet_audit_last_run_timestamp_seconds"] > 0

    # a stored balance that no longer equals its postings (what a bad manual fix would do)
    account = account_for_user(user_id=viewer.pk)
    Account.objects.filter(pk=account.pk).update(balance=account.balance + 7)
    broken = run([sys.executable, *script], DATABASE_URL=test_db)
    assert broken.returncode == 1
    assert "FAIL" in broken.stderr
    values = audit_metrics(metrics_file)
    assert values["halobuzz_wallet_audit_ok"] == 0 and values["halobuzz_wallet_audit_problems"] >= 1
    # put it back so the suite's own audits stay meaningful
    Account.objects.filter(pk=account.pk).update(balance=account.balance)
    assert Posting.objects.aggregate(s=Sum("amount"))["s"] == 0
