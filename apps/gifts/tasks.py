from celery import shared_task

from apps.gifts.services import stream_gift_totals_refresh


@shared_task(name="gifts.stream_gift_totals_refresh")
def stream_gift_totals_refresh_task() -> int:
    """Copy gift totals onto recently gifted streams (safe to rerun)."""
    return stream_gift_totals_refresh()
