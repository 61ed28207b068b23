from django.apps import AppConfig
from django.conf import settings


class OgConfig(AppConfig):
    name = "apps.og"
    label = "og"
    verbose_name = "OG membership"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["og-daily-bonus"] = {
            "task": "og.daily_bonus_grant_all",
            "schedule": float(settings.OG_DAILY_BONUS_SECONDS),
        }
        settings.CELERY_BEAT_SCHEDULE["og-memberships-expire"] = {
            "task": "og.memberships_expire",
            "schedule": float(settings.OG_EXPIRE_SECONDS),
        }
