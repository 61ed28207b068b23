from django.apps import AppConfig
from django.conf import settings


class ReelsConfig(AppConfig):
    name = "apps.reels"
    label = "reels"
    verbose_name = "Reels"

    def ready(self) -> None:
        from apps.moderation.services import report_target_register
        from apps.moderation.types import CaseTargetType
        from apps.reels.selectors import reel_author_id

        report_target_register(target_type=CaseTargetType.REEL, subject_of=reel_author_id)
        settings.CELERY_BEAT_SCHEDULE["reels-counters-flush"] = {
            "task": "reels.counters_flush",
            "schedule": float(settings.REELS_COUNTER_FLUSH_SECONDS),
        }
        settings.CELERY_BEAT_SCHEDULE["reels-trending-refresh"] = {
            "task": "reels.trending_refresh",
            "schedule": float(settings.REELS_TRENDING_SECONDS),
        }
