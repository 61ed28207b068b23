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


def live_streams_bulk(viewer_counts: list[int], *, category: str = "music") -> list[Stream]:
    """One live stream per viewer count, each with its own host, in two INSERTs (lists of hundreds)."""
    from apps.accounts.models import User

    start = User.objects.count()
    hosts = User.objects.bulk_create(
        User(username=f"bulkhost{start}_{i}", email=f"bulkhost{start}_{i}@example.com", display_name=f"Host {i}")
        for i in range(len(viewer_counts))
    )
    now = timezone.now()
    return Stream.objects.bulk_create(
        Stream(
            host=host,
            title=f"Live show {host.pk}",
            category=category,
            status=Stream.Status.LIVE,
            started_at=now,
            last_heartbeat_at=now,
            current_viewers=viewers,
        )
        for host, viewers in zip(hosts, viewer_counts, strict=True)
    )
