"""A Celery worker process killed while it verifies a payment (the fault suite's finding), with a real
worker process, the gateway sandbox on a live server, Redis and PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from apps.payments.models import Payment
from apps.wallet.models import JournalEntry
from apps.wallet.selectors import coins_balance, ledger_audit
from halobuzz.celery import app
from tests.faults.stack import children, wait_until
from tests.payments.conftest import khalti_pay, package, payment_of, sandbox, scenario, start_payment  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore::celery.exceptions.AlwaysEagerIgnored"
    ),  # send_task is meant to reach the broker
]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(sandbox, tmp_path):  # noqa: F811 - the payments app's sandbox fixture, imported above
    """One worker process (prefork, one pool process) on the test database and a queue of its own."""
    queue = f"faults-{os.getpid()}-{time.monotonic_ns()}"
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}")),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PAYMENTS_SANDBOX_ENABLED": "true",
        "SITE_URL": sandbox.url,
        "PAYMENT_GATEWAY_TIMEOUT": "10",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "halobuzz", "worker", "--pool=prefork"]
            + ["--concurrency=1", f"--queues={queue}", "--without-gossip", "--without-mingle", "--without-heartbeat"]
            + ["--loglevel=INFO", f"--hostname={queue}@%h"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: "ready." in log.read_text(errors="replace"), timeout=120, what="the worker")
            yield process, queue, log
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def test_a_verification_whose_worker_process_is_killed_runs_again_and_credits_once(
    worker,
    user,
    package,  # noqa: F811
    start_payment,  # noqa: F811
):
    # given a Khalti top-up the payer confirmed, whose gateway answers status queries 3 s late
    process, queue, log = worker
    body = start_payment(user, package, "khalti")
    scenario(payment_of(body), delay=3)
    khalti_pay(body, follow=False)  # the redirect back is not followed: the worker verifies, not this process

    # when the worker's pool process is killed while it waits for the gateway's answer
    app.send_task("payments.payment_verify", args=[body["id"]], queue=queue)
    wait_until(lambda: "payments.payment_verify" in log.read_text(errors="replace"), timeout=30, what="the task")
    time.sleep(1)
    for pid in children(process.pid):
        os.kill(pid, signal.SIGKILL)

    # then the verification is delivered again and the payment is credited exactly once
    wait_until(lambda: payment_of(body).status == Payment.Status.COMPLETED, timeout=30, what="the payment settled")
    total = package.coins + package.bonus_coins
    assert JournalEntry.objects.filter(kind="topup", ref=str(body["id"])).count() == 1
    assert coins_balance(user_id=user.pk) == total
    assert ledger_audit() == []
    assert log.read_text(errors="replace").count("] received") == 2  # delivered again, not settled another way
