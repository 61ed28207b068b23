from celery import shared_task
from django.conf import settings

from apps.payments.services import payment_verify, payments_reconcile


# reject_on_worker_lost: a pool process killed mid-verification (OOM, a crash) gives its message back
# to the broker, which delivers it again; otherwise Celery acknowledges it and the payment waits for
# the reconciliation. Safe because payment_verify may run any number of times.
@shared_task(bind=True, name="payments.payment_verify", max_retries=None, acks_late=True, reject_on_worker_lost=True)
def payment_verify_task(self, payment_id: int) -> object:
    """Verify one payment with the gateway; transient answers retry with exponential backoff."""
    final = self.request.retries >= settings.PAYMENT_VERIFY_MAX_RETRIES
    outcome = payment_verify(payment_id=payment_id, final_attempt=final)
    if outcome.retry:
        countdown = min(settings.PAYMENT_VERIFY_BACKOFF_SECONDS * 2**self.request.retries, 3600)
        if self.request.is_eager:
            # Eager mode (embedded default, tests): with eager propagation a raised Retry escapes;
            # returned, Celery re-applies the task inline at once (no countdown).
            return self.retry(countdown=countdown, throw=False)
        raise self.retry(countdown=countdown)
    return outcome.after


@shared_task(name="payments.payments_reconcile")
def payments_reconcile_task() -> int:
    """Re-check pending payments, expire stale ones, pick up refunds. Returns how many changed."""
    return len(payments_reconcile())
