from django.apps import AppConfig
from django.conf import settings


class FraudConfig(AppConfig):
    name = "apps.fraud"
    label = "fraud"
    verbose_name = "Fraud signals (Finance)"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["fraud-rules-run"] = {
            "task": "fraud.fraud_rules_run",
            "schedule": float(settings.FRAUD_RULES_SECONDS),
        }
