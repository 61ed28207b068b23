from django.apps import AppConfig
from django.conf import settings


class LiveConfig(AppConfig):
    name = "apps.live"
    label = "live"
    verbose_name = "Live streams"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["live-streams-end-silent"] = {
            "task": "live.streams_end_silent",
            "schedule": float(settings.LIVE_SILENT_CHECK_SECONDS),
        }
