from celery import shared_task

from apps.wallet.services import ledger_rollup


@shared_task(name="wallet.ledger_rollup")
def ledger_rollup_task() -> int:
    """Fold appended credits into stored balances (safe to run any number of times, even at once)."""
    return ledger_rollup()
