from django.apps import AppConfig
from django.conf import settings


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    label = "payments"
    verbose_name = "Payments (coin top-ups)"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["payments-reconcile"] = {
            "task": "payments.payments_reconcile",
            "schedule": float(settings.PAYMENT_RECONCILE_SECONDS),
        }
