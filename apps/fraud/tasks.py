from celery import shared_task

from apps.fraud.services import fraud_rules_run


@shared_task(name="fraud.fraud_rules_run")
def fraud_rules_run_task() -> int:
    """Run the velocity rules over the windows ending now (safe to rerun). Returns the cases opened or refreshed."""
    return len(fraud_rules_run())
