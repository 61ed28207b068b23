import factory

from apps.payments.models import CoinPackage


class CoinPackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoinPackage

    name = factory.Sequence(lambda n: f"Pack {n}")
    price_paisa = 50_000
    coins = 500
    bonus_coins = 25
    active = True


def gateways_point_at_sandbox(settings, base_url: str) -> None:
    """Both gateways at the built-in sandbox served by `base_url` (a live server), with the sandbox's
    test credentials and instant retries. The timeout leaves a loaded machine's live server time to
    answer; a test of timeouts shortens it."""
    settings.PAYMENTS_SANDBOX_ENABLED = True
    settings.SITE_URL = base_url
    settings.ESEWA_FORM_URL = f"{base_url}/sandbox/esewa/api/epay/main/v2/form"
    settings.ESEWA_STATUS_URL = f"{base_url}/sandbox/esewa/api/epay/transaction/status/"
    settings.ESEWA_PRODUCT_CODE = "EPAYTEST"
    settings.ESEWA_SECRET_KEY = "8gBm/:&EnhH.1/q"
    settings.KHALTI_BASE_URL = f"{base_url}/sandbox/khalti/api/v2/"
    settings.KHALTI_SECRET_KEY = "test_secret_key_halobuzz_sandbox"
    settings.PAYMENT_GATEWAY_TIMEOUT = 10.0
    settings.PAYMENT_VERIFY_MAX_RETRIES = 2
    settings.PAYMENT_VERIFY_BACKOFF_SECONDS = 0
