import factory
from django.utils import timezone

from apps.gifts.models import Gift
from apps.live.models import Stream
from tests.accounts.factories import UserFactory


class GiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gift

    name = factory.Sequence(lambda n: f"Gift {n}")
    coin_price = 10
    icon_url = factory.LazyAttribute(lambda g: f"https://cdn.example/{g.name}.png")
    animation_url = factory.LazyAttribute(lambda g: f"https://cdn.example/{g.name}.json")
    category = Gift.Category.CLASSIC
    order = factory.Sequence(lambda n: n)


class LiveStreamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stream

    host = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Stream {n}")
    status = Stream.Status.LIVE
    started_at = factory.LazyFunction(timezone.now)
