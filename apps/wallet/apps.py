from django.apps import AppConfig
from django.conf import settings


class WalletConfig(AppConfig):
    name = "apps.wallet"
    label = "wallet"
    verbose_name = "Wallet"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["wallet-ledger-rollup"] = {
            "task": "wallet.ledger_rollup",
            "schedule": float(settings.LEDGER_ROLLUP_SECONDS),
        }
