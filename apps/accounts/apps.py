from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from apps.accounts.jwt_keys import jwt_hmac_keys_prepare_once

        jwt_hmac_keys_prepare_once()
