import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.reels import ranking
from apps.reels.models import Reel
from tests.accounts.factories import UserFactory

# Not a playable video: enough bytes for storage, range and feed tests that never decode it.
FAKE_VIDEO_BYTES = bytes(range(256)) * 40


class ReelFactory(factory.django.DjangoModelFactory):
    """A published reel; its hot score is computed as the service would from its counters."""

    class Meta:
        model = Reel

    author = factory.SubFactory(UserFactory)
    caption = factory.Sequence(lambda n: f"reel {n}")
    video = factory.LazyFunction(lambda: ContentFile(FAKE_VIDEO_BYTES, name="video.mp4"))
    content_type = "video/mp4"
    size_bytes = len(FAKE_VIDEO_BYTES)
    duration_seconds = 3.0
    width = 96
    height = 64
    status = Reel.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)
    hot_score = factory.LazyAttribute(
        lambda r: ranking.hot_score(
            published_at=r.published_at or timezone.now(),
            views=r.views_count,
            likes=r.likes_count,
            comments=r.comments_count,
            shares=r.shares_count,
        )
    )
    views_count = 0
    likes_count = 0
    comments_count = 0
    shares_count = 0
