from celery import shared_task
from django.conf import settings

from apps.accounts import recovery


@shared_task(bind=True, name="accounts.sms_code_send", max_retries=None, acks_late=True)
def sms_code_send_task(self, code_id: int, sealed_text: str) -> object:
    """Text one verification code. A provider outage retries with exponential backoff up to
    SMS_SEND_MAX_RETRIES times; a documented refusal is final (apps.accounts.sms.sparrow)."""
    final = self.request.retries >= settings.SMS_SEND_MAX_RETRIES
    outcome = recovery.sms_code_deliver(code_id=code_id, sealed_text=sealed_text, final_attempt=final)
    if outcome.retry:
        countdown = settings.SMS_SEND_BACKOFF_SECONDS * 2**self.request.retries
        if self.request.is_eager:
            # Eager mode (tests): a raised Retry would escape; returned, Celery re-applies the task
            # inline at once (no countdown).
            return self.retry(countdown=countdown, throw=False)
        raise self.retry(countdown=countdown)
    return outcome.status
