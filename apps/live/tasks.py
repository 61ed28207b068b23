from celery import shared_task

from apps.live.services import streams_end_silent


@shared_task(name="live.streams_end_silent")
def streams_end_silent_task() -> int:
    """End streams whose host stopped sending heartbeats (safe to run any number of times)."""
    return streams_end_silent()
