from django.apps import AppConfig
from django.conf import settings


class GiftsConfig(AppConfig):
    name = "apps.gifts"
    label = "gifts"
    verbose_name = "Gifts"

    def ready(self) -> None:
        from apps.gifts.selectors import stream_gift_coins, stream_gift_coins_since, stream_gift_totals_now
        from apps.live.selectors import stream_gift_totals_reader_register
        from apps.live.services import pk_gift_coins_reader_register, stream_gift_velocity_reader_register

        # PK battles are scored from the gift records, which live cannot read (gifts sit above it);
        # so are the gift totals the stream API shows.
        pk_gift_coins_reader_register(stream_gift_coins)
        stream_gift_totals_reader_register(stream_gift_totals_now)
        stream_gift_velocity_reader_register(stream_gift_coins_since)  # the trending list's gift velocity
        settings.CELERY_BEAT_SCHEDULE["gifts-stream-totals"] = {
            "task": "gifts.stream_gift_totals_refresh",
            "schedule": float(settings.GIFT_STREAM_TOTALS_SECONDS),
        }
        settings.CELERY_BEAT_SCHEDULE["gifts-recommender-train"] = {
            "task": "gifts.recommender_train",
            "schedule": float(settings.GIFT_RECOMMENDER_TRAIN_SECONDS),
        }
