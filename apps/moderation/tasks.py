from celery import shared_task

from apps.moderation import services


@shared_task(name="moderation.frame_score", acks_late=True)
def frame_score_task(frame_id: int) -> int:
    """Score a live frame (batched with whatever else is pending); returns how many were scored."""
    return len(services.frame_score(frame_id=frame_id))


@shared_task(name="moderation.frames_sweep")
def frames_sweep_task() -> dict[str, int]:
    return services.frames_sweep()
