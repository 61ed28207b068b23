from celery import shared_task

from apps.moderation import services


# Nobody reads the result (the verdict is in the database): not storing it saves a Redis write per task.
@shared_task(name="moderation.frame_score", acks_late=True, ignore_result=True)
def frame_score_task(frame_id: int) -> int:
    """Score a live frame (batched with whatever else is pending); returns how many were scored."""
    return len(services.frame_score(frame_id=frame_id))


@shared_task(name="moderation.frames_sweep")
def frames_sweep_task() -> dict[str, int]:
    return services.frames_sweep()
