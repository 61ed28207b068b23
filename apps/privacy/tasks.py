import logging

from celery import shared_task

from apps.privacy import services
from apps.privacy.services import account_deletions_finalise_due

logger = logging.getLogger(__name__)


@shared_task(name="privacy.account_deletions_finalise_due")
def account_deletions_finalise_due_task() -> int:
    return account_deletions_finalise_due()


@shared_task(name="privacy.data_export_build", bind=True, max_retries=3, acks_late=True)
def data_export_build_task(self, export_id: int) -> str:
    """Build one export (safe to rerun: a built one is skipped). Anything unexpected (storage
    hiccup) is retried with backoff; after the last retry the export fails and the user may ask again."""
    try:
        return services.data_export_build(export_id=export_id).status
    except Exception as exc:
        if self.request.retries >= self.max_retries or self.request.is_eager:
            logger.exception("data export failed", extra={"export_id": export_id})
            services.data_export_failed(export_id=export_id)
            return "failed"
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc


@shared_task(name="privacy.data_exports_expire")
def data_exports_expire_task() -> int:
    """Beat: delete the exports past DATA_EXPORT_KEEP_HOURS."""
    return services.data_exports_expire()
