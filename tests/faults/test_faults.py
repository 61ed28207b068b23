"""Money that survives faults.

Against the production stack, started here on servers of its own (tests/faults/stack.py), clients
send gifts, top up through the gateway sandbox, buy OG, play games, ask for cash-outs that Finance
reviews in the admin, and watch a room, while one kind of fault is injected at a time. Afterwards
every acknowledged operation must be in the database exactly once, nothing the clients saw refused
may be there, every balance must have moved by exactly what the answers said, the wallet audit must
be clean and the leaderboards must equal the ledger after a rebuild. The table is printed at the end.
"""

import functools
import os
import random
import signal
import time
import uuid

import pytest

from tests.faults.checks import Row, gift_ref, verdict
from tests.faults.clients import GIVE_UP_SECONDS, Book, Clients, Op, Viewers, api, settle, until_definite
from tests.faults.report import ROWS
from tests.faults.stack import Stack, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.slow]

LOAD_BEFORE_SECONDS = 3  # steady load before the fault
LOAD_AFTER_SECONDS = 4  # load after it, while everything recovers
# The stack's gift combo window (LIVE_GIFT_COMBO_WINDOW_MS, 3 s by default) and a little more.
COMBO_WINDOW_SECONDS = 3.3


class FaultRun:
    """Runs the clients around one injected fault and judges what it left behind."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.world = stack.world("seed")
        self.facts = stack.world("facts")
        self.issued_gift_refs: set[str] = set()

    def __call__(self, fault: str, inject, *, payments: str = "app_asks_again", scenario: dict | None = None) -> Row:
        book = Book()
        clients = Clients(self.stack.base, self.world, book, payments=payments)
        clients.payment_scenario = scenario or {}
        room = self.world["hosts"][0]
        viewers = Viewers(self.stack.daphne.ws, room["stream"], self.world["viewers"])
        viewers.start()
        try:
            wait_until(viewers.settled, timeout=30, what="the viewers in the room")
            clients.start()
            time.sleep(LOAD_BEFORE_SECONDS)
            measured = inject(self.stack, clients, viewers) or {}
            time.sleep(LOAD_AFTER_SECONDS)
            clients.finish()
            probe = self._gift(book, room["stream"])
            heard = probe is not None and _within(15, lambda: all(probe in ids for ids in viewers.gift_ids.values()))
        finally:
            clients.finish()  # at once when done above; after a failure, no client goes on into the next run
            viewers.stop()
        self.issued_gift_refs |= {gift_ref(op.user_id, op.key) for op in book.of("gift")}
        after = self.stack.world("facts")
        row = verdict(fault, book, self.facts, after, self.issued_gift_refs)
        self.facts = after
        row.recovery = max(row.recovery, measured.get("recovery", 0.0))
        row.notes += measured.get("notes", [])
        if not heard:
            row.problems.append("the room's viewers did not hear a gift sent after the fault")
        row.problems += [f"room frame breaks the room contract: {p}" for p in viewers.contract_breaks[:3]]
        ROWS.append(row)
        return row

    def _gift(self, book: Book, stream: int) -> int | None:
        """One more gift to the watched room, once the fault is over: every viewer must hear it. It
        waits out the combo window first, so that the gift starts a streak named after it."""
        time.sleep(COMBO_WINDOW_SECONDS)
        sender = self.world["senders"][0]
        op = book.add(Op("gift", sender["id"], uuid.uuid4().hex, time.monotonic()))
        body = {"stream": stream, "gift": self.world["gift"], "quantity": 1}
        send = functools.partial(api, self.stack.base, "POST", "/api/v1/gifts/send/", sender["token"], op.key, body)
        if not settle(op, until_definite(op, send)):
            return None
        op.result["host_id"] = self.world["hosts"][0]["id"]
        return op.result["id"]


def _within(seconds: float, check) -> bool:
    try:
        wait_until(check, timeout=seconds)
    except RuntimeError:
        return False
    return True


@pytest.fixture(scope="module")
def fault_run():
    stack = Stack()
    try:
        yield FaultRun(stack)
    finally:
        stack.stop()


def _assert_sound(row: Row) -> None:
    assert row.acked > 0, row
    assert (row.lost, row.duplicated, row.refused_present, row.unresolved) == (0, 0, 0, 0), row.problems
    assert row.problems == []


def _assert_api_refused_cleanly(row: Row, *also: str) -> None:
    """While a service the API needs was away, the API answered 503 in the one shape (or nothing,
    its connection cut), never a server error; `also` names other answers that were right then."""
    api_answers = [what for what in row.unclear if " /api/" in what]
    assert all(what.startswith(("503 ", "None ")) or what in also for what in api_answers), row.unclear


# --- the faults, one kind at a time -----------------------------------------------------------


def kill_web_workers(stack: Stack, clients: Clients, viewers: Viewers) -> dict:
    """SIGKILL a gunicorn worker in the middle of the sends, three times; the master forks new ones."""
    for _ in range(3):
        os.kill(random.choice(stack.web_workers()), signal.SIGKILL)  # noqa: S311
        time.sleep(1.5)
    wait_until(lambda: len(stack.web_workers()) == stack.GUNICORN_WORKERS, timeout=30, what="gunicorn's workers")
    return {}


def test_a_gunicorn_worker_killed_mid_sends(fault_run):
    _assert_sound(fault_run("gunicorn worker SIGKILL x3", kill_web_workers))


def terminate_backends(stack: Stack, clients: Clients, viewers: Viewers) -> dict:
    """pg_terminate_backend every session that is running a statement or sits in a transaction,
    twenty times, a quarter of a second apart."""
    terminated = 0
    for _ in range(20):
        terminated += stack.pg.terminate_busy_backends()
        time.sleep(0.25)
    return {"notes": [f"{terminated} busy sessions terminated"]}


def test_postgres_sessions_terminated_mid_transaction(fault_run):
    row = fault_run("pg_terminate_backend x20", terminate_backends)
    _assert_sound(row)
    _assert_api_refused_cleanly(row)


def restart_postgres(stack: Stack, clients: Clients, viewers: Viewers) -> dict:
    """Stop PostgreSQL as a crash would (immediate), and start it again."""
    stack.pg.crash_restart()
    return {}


def test_postgres_restarted(fault_run):
    row = fault_run("PostgreSQL crash + restart", restart_postgres)
    _assert_sound(row)
    _assert_api_refused_cleanly(row)


def stop_redis(stack: Stack, clients: Clients, viewers: Viewers) -> dict:
    """Redis gone for 10 seconds, then back with its data."""
    stack.redis.stop()
    time.sleep(10)
    stack.redis.start()
    return {}


def test_redis_stopped_for_ten_seconds(fault_run):
    row = fault_run("Redis down 10 s", stop_redis)
    _assert_sound(row)
    # The Khalti sandbox keeps its transactions in this same Redis, so a top-up whose initiate reached
    # it during the outage is told, rightly, that the gateway did not answer.
    _assert_api_refused_cleanly(row, "502 /api/ gateway_unavailable")


def _in_verification(clients: Clients) -> list[Op]:
    """Paid top-ups whose verification has been waiting 1 to 2 s on the gateway's status answer
    (the sandbox gives it 3 s late in these runs)."""
    now = time.monotonic()
    return [
        op
        for op in clients.book.of("topup")
        if op.outcome == "unknown" and op.result.get("paid") and 1.0 <= now - op.result["paid_at"] <= 2.0
    ]


def _killed_mid_verification(kill):
    """Kill while a paid top-up is being verified, then measure until its payer sees it completed."""

    def inject(stack: Stack, clients: Clients, viewers: Viewers) -> dict:
        paid = wait_until(lambda: _in_verification(clients), timeout=60, interval=0.05, what="a verification")
        killed_at = time.monotonic()
        notes = kill(stack)
        settled = _within(GIVE_UP_SECONDS, lambda: all(op.outcome != "unknown" for op in paid))
        recovery = max(op.resolved_at or killed_at for op in paid) - killed_at if settled else GIVE_UP_SECONDS
        notes.insert(0, f"{len(paid)} payment(s) in verification when killed")
        return {"recovery": recovery, "notes": notes}

    return inject


def kill_worker_pool(stack: Stack) -> list[str]:
    """SIGKILL the worker's pool processes (the OOM killer's pick); the worker forks new ones."""
    for pid in stack.worker_children():
        os.kill(pid, signal.SIGKILL)
    return []


def test_celery_pool_killed_mid_payment_verification(fault_run):
    row = fault_run(
        "Celery pool SIGKILL mid-verification",
        _killed_mid_verification(kill_worker_pool),
        payments="worker_only",
        scenario={"delay": 3},
    )
    _assert_sound(row)


def kill_whole_worker(stack: Stack) -> list[str]:
    """SIGKILL the whole worker (a lost node) and start another. The message it held stays in the
    broker's unacknowledged set for the visibility timeout (an hour); the reconciliation, which beat
    runs every PAYMENT_RECONCILE_SECONDS (5 minutes), settles the payment first: run it now, as beat
    would. Then let the visibility timeout pass (forced): the message comes back and must change nothing."""
    stack.worker.kill()
    stack.worker_restart()
    reconciled = stack.manage("reconcile_payments").stdout.strip().splitlines()
    restored = stack.broker_unacked_restore()
    wait_until(stack.broker_idle, timeout=60, what="the worker to take the restored messages")
    return [f"reconciliation: {' / '.join(reconciled)}", f"{restored} message(s) back after the visibility timeout"]


def test_celery_worker_killed_mid_payment_verification(fault_run):
    row = fault_run(
        "Celery worker SIGKILL mid-verification",
        _killed_mid_verification(kill_whole_worker),
        payments="worker_only",
        scenario={"delay": 3},
    )
    _assert_sound(row)


def kill_daphne(stack: Stack, clients: Clients, viewers: Viewers) -> dict:
    """SIGKILL daphne with the viewers connected and start it again: they reconnect, the count recovers."""
    killed_at = time.monotonic()
    stack.daphne.kill()
    stack.daphne_restart()
    wait_until(viewers.settled, timeout=60, what="the viewers back with the right count")
    return {"recovery": time.monotonic() - killed_at, "notes": [f"{viewers.reconnects} reconnections"]}


def test_daphne_killed_with_viewers_connected(fault_run):
    _assert_sound(fault_run("daphne SIGKILL + restart", kill_daphne))
