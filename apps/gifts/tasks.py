from celery import shared_task

from apps.gifts.recommender import recommender_train
from apps.gifts.services import stream_gift_totals_refresh


@shared_task(name="gifts.stream_gift_totals_refresh")
def stream_gift_totals_refresh_task() -> int:
    """Copy gift totals onto recently gifted streams (safe to rerun)."""
    return stream_gift_totals_refresh()


@shared_task(name="gifts.recommender_train")
def recommender_train_task() -> str:
    """Retrain the gift recommender on recent history and store a new version (its version, or "" without sends)."""
    model = recommender_train()
    return model.version if model else ""
