import factory
from django.utils import timezone

from apps.live.models import Stream
from tests.accounts.factories import UserFactory


class LiveStreamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stream

    host = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Live show {n}")
    category = "music"
    status = Stream.Status.LIVE
    started_at = factory.LazyFunction(timezone.now)
    last_heartbeat_at = factory.LazyFunction(timezone.now)
