import factory

from apps.og.models import OgTier


class OgTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OgTier

    level = factory.Sequence(lambda n: n + 1)
    name = factory.LazyAttribute(lambda t: f"Tier {t.level}")
    price_coins = factory.LazyAttribute(lambda t: 1_000 * t.level)
    duration_days = 30
    daily_bonus_coins = factory.LazyAttribute(lambda t: 10 * t.level)
    badge = factory.LazyAttribute(lambda t: f"og_{t.level}")
    entrance_effect = "sparkle"
    og_only_gifts = False
    chat_color = "#FFB400"


def coins_give(user, amount: int) -> None:
    """Give a user coins the way Finance does (a ledger entry from issuance)."""
    from apps.wallet.services import coins_grant
    from tests.accounts.factories import UserFactory

    finance = UserFactory(is_superuser=True, is_staff=True)
    coins_grant(user=user, amount=amount, reason="test coins", granted_by=finance)
