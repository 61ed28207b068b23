import factory
from django.utils import timezone

from apps.live.models import Category, Stream
from tests.accounts.factories import UserFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    """A catalogue entry (tests cannot count on the migration's rows: a transactional test empties
    the tables after it)."""

    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category{n}")
    name_en = factory.LazyAttribute(lambda c: c.slug.replace("-", " ").title())
    name_ne = factory.LazyAttribute(lambda c: f"{c.slug} (ने)")


def category_of(value: "str | Category | None") -> Category | None:
    """A catalogue entry for a slug, made when missing ("" or None: no category)."""
    if isinstance(value, str):
        return CategoryFactory(slug=value.lower()) if value else None
    return value


class LiveStreamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stream

    host = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Live show {n}")
    category = "music"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        kwargs["category"] = category_of(kwargs.get("category"))
        return super()._create(model_class, *args, **kwargs)

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
    category_row = category_of(category)
    return Stream.objects.bulk_create(
        Stream(
            host=host,
            title=f"Live show {host.pk}",
            category=category_row,
            status=Stream.Status.LIVE,
            started_at=now,
            last_heartbeat_at=now,
            current_viewers=viewers,
        )
        for host, viewers in zip(hosts, viewer_counts, strict=True)
    )
