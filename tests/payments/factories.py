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
