import logging

from celery import shared_task

from apps.reels import services

logger = logging.getLogger(__name__)


@shared_task(name="reels.reel_process", bind=True, max_retries=5, acks_late=True)
def reel_process_task(self, reel_id: int) -> str:
    """Measure, thumbnail and moderate an uploaded reel (safe to rerun: a finished reel is skipped).

    Anything unexpected (moderation unavailable, storage hiccup) is retried with backoff; after the
    last retry the reel is rejected with a reason asking for a new upload, so it never hangs in
    processing.
    """
    try:
        return services.reel_process(reel_id=reel_id).status
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            logger.exception("reel processing gave up", extra={"reel_id": reel_id})
            return services.reel_process_failed(reel_id=reel_id).status
        raise self.retry(exc=exc, countdown=15 * 2**self.request.retries) from exc


@shared_task(name="reels.counters_flush")
def counters_flush_task() -> int:
    """Fold Redis view/share counts into reel rows (one flusher at a time; safe to run any time)."""
    return services.counters_flush()


@shared_task(name="reels.trending_refresh")
def trending_refresh_task() -> int:
    """Rescore the recent reels for the trending list (safe to run any time)."""
    return services.trending_refresh()
