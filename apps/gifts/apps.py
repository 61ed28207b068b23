from django.apps import AppConfig
from django.conf import settings


class GiftsConfig(AppConfig):
    name = "apps.gifts"
    label = "gifts"
    verbose_name = "Gifts"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["gifts-stream-totals"] = {
            "task": "gifts.stream_gift_totals_refresh",
            "schedule": float(settings.GIFT_STREAM_TOTALS_SECONDS),
        }
