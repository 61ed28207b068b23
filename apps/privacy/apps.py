from django.apps import AppConfig
from django.conf import settings


class PrivacyConfig(AppConfig):
    name = "apps.privacy"
    label = "privacy"
    verbose_name = "Privacy: account deletion and data export"

    def ready(self) -> None:
        # Finalises deletions whose grace period is over; each run is safe to repeat.
        settings.CELERY_BEAT_SCHEDULE["privacy-account-deletions-finalise-due"] = {
            "task": "privacy.account_deletions_finalise_due",
            "schedule": float(settings.ACCOUNT_DELETION_SWEEP_SECONDS),
        }
        settings.CELERY_BEAT_SCHEDULE["privacy-data-exports-expire"] = {
            "task": "privacy.data_exports_expire",
            "schedule": float(settings.DATA_EXPORT_SWEEP_SECONDS),
        }
