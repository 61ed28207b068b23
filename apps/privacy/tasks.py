from celery import shared_task

from apps.privacy.services import account_deletions_finalise_due


@shared_task(name="privacy.account_deletions_finalise_due")
def account_deletions_finalise_due_task() -> int:
    return account_deletions_finalise_due()
