from celery import shared_task

from apps.live.services import pk_end, pk_end_overdue, streams_end_silent, trending_refresh


@shared_task(name="live.streams_end_silent")
def streams_end_silent_task() -> int:
    """End streams whose host stopped sending heartbeats (safe to run any number of times)."""
    return streams_end_silent()


@shared_task(name="live.pk_battle_end")
def pk_battle_end_task(battle_id: int) -> None:
    """End one PK battle when its time is up (a no-op if early, already ended or cancelled)."""
    pk_end(battle_id=battle_id)


@shared_task(name="live.pk_battles_end_overdue")
def pk_battles_end_overdue_task() -> int:
    """End running battles whose end task was lost (safe to run any number of times)."""
    return pk_end_overdue()


# The brief's name for the end task.
pk_battle_end = pk_battle_end_task


@shared_task(name="live.trending_refresh")
def trending_refresh_task() -> int:
    """Rescore the live streams for the trending list (safe to run any number of times)."""
    return trending_refresh()
