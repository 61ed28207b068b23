from django.apps import AppConfig
from django.conf import settings


class ReelsConfig(AppConfig):
    name = "apps.reels"
    label = "reels"
    verbose_name = "Reels"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["reels-counters-flush"] = {
            "task": "reels.counters_flush",
            "schedule": float(settings.REELS_COUNTER_FLUSH_SECONDS),
        }
