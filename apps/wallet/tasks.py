from celery import shared_task

from apps.wallet.services import kyc_face_match, ledger_rollup


@shared_task(name="wallet.ledger_rollup")
def ledger_rollup_task() -> int:
    """Fold appended credits into stored balances (safe to run any number of times, even at once)."""
    return ledger_rollup()


@shared_task(name="wallet.kyc_face_match")
def kyc_face_match_task(submission_id: int) -> str:
    """Compare the faces of a KYC submission (safe to rerun: a decided submission is left alone)."""
    return kyc_face_match(submission_id=submission_id).face_match
