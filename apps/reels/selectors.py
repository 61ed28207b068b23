import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.accounts.selectors import blocked_user_ids, following_ids, is_blocked_between
from apps.core.exceptions import DomainError
from apps.reels import trending
from apps.reels.exceptions import HashtagNotFound, ReelNotFound
from apps.reels.hashtags import hashtag_normalise
from apps.reels.models import Hashtag, Reel, ReelComment, ReelHashtag, ReelLike


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    status = 400
    message = gettext_lazy("The cursor is not one this feed handed out.")


def reel_get_for_owner(*, reel_id: int, user: User) -> Reel:
    """The author's own reel in any state but deleted (for polling the processing status)."""
    reel = Reel.objects.filter(pk=reel_id, author=user).exclude(status=Reel.Status.DELETED).first()
    if reel is None:
        raise ReelNotFound()
    return reel


def reel_get_visible(*, reel_id: int, viewer: User) -> Reel:
    """A reel this viewer may watch: published, by an active author, neither blocking the other.

    The author also sees their own reel while it is processing or after rejection. Anything else is
    a 404, so a blocked user cannot even learn the reel exists.
    """
    reel = Reel.objects.select_related("author").filter(pk=reel_id).exclude(status=Reel.Status.DELETED).first()
    if reel is None:
        raise ReelNotFound()
    if reel.author_id == viewer.pk:
        return reel
    if (
        reel.status != Reel.Status.PUBLISHED
        or not reel.author.is_active
        or is_blocked_between(user_id=viewer.pk, other_id=reel.author_id)
    ):
        raise ReelNotFound()
    return reel


def reel_author_id(reel_id: int) -> int | None:
    """Whose reel it is (any status), None when there is no such reel: moderation's reports ask."""
    return Reel.objects.filter(pk=reel_id).values_list("author_id", flat=True).first()


def reel_list_mine(*, user: User) -> QuerySet[Reel]:
    return Reel.objects.filter(author=user).exclude(status=Reel.Status.DELETED).select_related("author")


def reel_list_by_author(*, author_id: int, viewer: User) -> QuerySet[Reel]:
    """An author's published reels as a viewer may see them (none when either blocked the other)."""
    qs = Reel.objects.filter(author_id=author_id, status=Reel.Status.PUBLISHED, author__is_active=True)
    if author_id in blocked_user_ids(user=viewer):
        return qs.none()
    return qs.select_related("author")


@dataclass(frozen=True)
class HashtagSummary:
    tag: str
    reels_count: int


def _published_visible(viewer: User) -> QuerySet[Reel]:
    qs = Reel.objects.filter(status=Reel.Status.PUBLISHED, author__is_active=True)
    blocked = blocked_user_ids(user=viewer)
    return qs.exclude(author_id__in=blocked) if blocked else qs


def _hashtag(tag: str) -> Hashtag:
    normal = hashtag_normalise(tag)
    hashtag = Hashtag.objects.filter(tag=normal).first() if normal else None
    if hashtag is None:
        raise HashtagNotFound()
    return hashtag


def hashtag_get(*, tag: str, viewer: User) -> HashtagSummary:
    """A tag (as typed: `#Dashain`, `dashain`) with how many published reels the viewer can see carry
    it (counted when asked, on the (hashtag, reel) index, so it is never out of step)."""
    hashtag = _hashtag(tag)
    count = _published_visible(viewer).filter(hashtag_links__hashtag=hashtag).count()
    return HashtagSummary(tag=hashtag.tag, reels_count=count)


def reel_list_by_hashtag(*, tag: str, viewer: User) -> QuerySet[Reel]:
    """Published reels carrying the tag that the viewer may see (HashtagNotFound for an unknown tag)."""
    hashtag = _hashtag(tag)
    return _published_visible(viewer).filter(hashtag_links__hashtag=hashtag).select_related("author")


def reel_hashtags(*, reels: list[Reel]) -> dict[int, list[str]]:
    """Each reel's tags in caption order (one query for a page)."""
    tags: dict[int, list[str]] = {reel.pk: [] for reel in reels}
    if not tags:
        return tags
    links = ReelHashtag.objects.filter(reel_id__in=list(tags)).order_by("pk").values_list("reel_id", "hashtag__tag")
    for reel_id, tag in links:
        tags[reel_id].append(tag)
    return tags


def liked_reel_ids(*, user: User, reel_ids: list[int]) -> set[int]:
    if not reel_ids:
        return set()
    return set(ReelLike.objects.filter(user=user, reel_id__in=reel_ids).values_list("reel_id", flat=True))


def comment_list(*, reel: Reel, viewer: User) -> QuerySet[ReelComment]:
    qs = ReelComment.objects.filter(reel=reel, author__is_active=True).select_related("author")
    blocked = blocked_user_ids(user=viewer)
    return qs.exclude(author_id__in=blocked) if blocked else qs


# --- Feed ---------------------------------------------------------------------------------------

FOLLOWING, EVERYONE = 0, 1


@dataclass(frozen=True)
class FeedCursor:
    """Where a feed page ends: the section (followed authors first), and the last (hot, id) in it.

    `since` freezes the "recent reels of people you follow" window for the whole scroll, so a reel
    cannot move from the first section to the second between two pages.
    """

    section: int
    since: float
    hot: float | None = None
    last_id: int | None = None

    def encode(self) -> str:
        raw = json.dumps({"s": self.section, "w": self.since, "h": self.hot, "i": self.last_id}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "FeedCursor":
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            cursor = cls(section=int(raw["s"]), since=float(raw["w"]), hot=raw["h"], last_id=raw["i"])
            if cursor.section not in (FOLLOWING, EVERYONE) or (cursor.hot is None) != (cursor.last_id is None):
                raise ValueError
            if cursor.hot is not None and cursor.last_id is not None:
                cursor = cls(cursor.section, cursor.since, float(cursor.hot), int(cursor.last_id))
            return cursor
        except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
            raise InvalidCursor() from None


@dataclass(frozen=True)
class FeedPage:
    reels: list[Reel]
    next_cursor: FeedCursor | None


def _after(cursor: FeedCursor) -> Q:
    if cursor.hot is None:
        return Q()
    return Q(hot_score__lt=cursor.hot) | Q(hot_score=cursor.hot, id__lt=cursor.last_id)


def reel_feed(*, viewer: User, cursor: FeedCursor | None, size: int) -> FeedPage:
    """The viewer's feed: recent reels of people they follow first, then everyone's by hot score.

    Keyset-paginated on (section, hot_score, id), so scrolling never repeats or skips a reel unless
    its score changes between pages. Never the viewer's own reels, never a blocked user's.
    """
    if cursor is None:
        since = (timezone.now() - timedelta(days=settings.REELS_FOLLOWING_WINDOW_DAYS)).timestamp()
        cursor = FeedCursor(section=FOLLOWING, since=since)
    since_at = datetime.fromtimestamp(cursor.since, tz=UTC)

    base = (
        Reel.objects.filter(status=Reel.Status.PUBLISHED, author__is_active=True)
        .exclude(author=viewer)
        .select_related("author")
        .order_by("-hot_score", "-id")
    )
    blocked = blocked_user_ids(user=viewer)
    if blocked:
        base = base.exclude(author_id__in=blocked)
    followed = Q(author_id__in=following_ids(user=viewer)) & Q(published_at__gte=since_at)

    reels: list[Reel] = []
    section = cursor.section
    if section == FOLLOWING:
        rows = list(base.filter(followed).filter(_after(cursor))[: size + 1])
        if len(rows) > size:
            reels = rows[:size]
            last = reels[-1]
            return FeedPage(reels, FeedCursor(FOLLOWING, cursor.since, last.hot_score, last.pk))
        reels = rows
        cursor = FeedCursor(EVERYONE, cursor.since)
    need = size - len(reels)
    rows = list(base.exclude(followed).filter(_after(cursor))[: need + 1])
    reels += rows[:need]
    if len(rows) <= need:
        return FeedPage(reels, None)
    if need == 0:
        return FeedPage(reels, FeedCursor(EVERYONE, cursor.since))
    last = reels[-1]
    return FeedPage(reels, FeedCursor(EVERYONE, cursor.since, last.hot_score, last.pk))


def reel_list_trending(*, viewer: User, size: int, cursor: str | None) -> trending.TrendingPage:
    """A page of the trending reels (apps.reels.trending has the formula); InvalidCursor for a bad
    or expired cursor."""
    try:
        return trending.trending_page(viewer=viewer, size=size, cursor=cursor)
    except trending.TrendingCursorInvalid:
        raise InvalidCursor() from None
