"""Trending reels: recent engagement with time decay, ranked by a beat task into the cache.

Every REELS_TRENDING_SECONDS `reels.trending_refresh` scores each published reel (author active)
published in the last REELS_TRENDING_MAX_AGE_DAYS:

    score = (1 + LIKE_WEIGHT * likes + COMMENT_WEIGHT * comments + VIEW_WEIGHT * views)
            / (age_hours + 2) ** GRAVITY

with `likes` and `comments` those made in the last REELS_TRENDING_WINDOW_HOURS (their rows carry
the time) and `views` the reel's view count (views are counted, not stored one by one; on reels at
most a week old it is recent by construction). The decay (gravity 1.5, as Hacker News ranks) lets a
fresh reel with some engagement pass an older one with more, and the 1 orders reels without any by
freshness. The best MAX_RANKED ids are cached; a reader pages through a snapshot of them with a
cursor, re-checking each page (a reel deleted or taken down since is dropped at once; authors the
reader blocked, or who blocked the reader, are left out).
"""

import base64
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.selectors import blocked_user_ids
from apps.reels.models import Reel, ReelComment, ReelLike

LIKE_WEIGHT = 1.0
COMMENT_WEIGHT = 2.0
VIEW_WEIGHT = 0.05
GRAVITY = 1.5
MAX_RANKED = 1000

RANKING_KEY = "reels:trending:ranking"
SNAPSHOT_KEY = "reels:trending:snapshot:{snapshot}"
SNAPSHOT_SECONDS = 600


def trending_score(*, likes: int, comments: int, views: int, age_hours: float) -> float:
    engagement = 1.0 + LIKE_WEIGHT * likes + COMMENT_WEIGHT * comments + VIEW_WEIGHT * views
    return engagement / (max(age_hours, 0.0) + 2.0) ** GRAVITY


def _recent_counts(model: type[ReelLike] | type[ReelComment], since, reel_ids: list[int]) -> dict[int, int]:
    rows = (
        model.objects.filter(created_at__gte=since, reel_id__in=reel_ids)
        .values("reel_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["reel_id"]: row["n"] for row in rows}


def trending_refresh() -> int:
    """Score the candidate reels and cache the best MAX_RANKED as (reel id, author id, score)."""
    now = timezone.now()
    candidates = list(
        Reel.objects.filter(
            status=Reel.Status.PUBLISHED,
            author__is_active=True,
            published_at__gte=now - timedelta(days=settings.REELS_TRENDING_MAX_AGE_DAYS),
        ).values_list("pk", "author_id", "views_count", "published_at")
    )
    ids = [row[0] for row in candidates]
    since = now - timedelta(hours=settings.REELS_TRENDING_WINDOW_HOURS)
    likes = _recent_counts(ReelLike, since, ids) if ids else {}
    comments = _recent_counts(ReelComment, since, ids) if ids else {}
    ranking = [
        (
            reel_id,
            author_id,
            round(
                trending_score(
                    likes=likes.get(reel_id, 0),
                    comments=comments.get(reel_id, 0),
                    views=views,
                    age_hours=(now - (published_at or now)).total_seconds() / 3600.0,
                ),
                6,
            ),
        )
        for reel_id, author_id, views, published_at in candidates
    ]
    ranking.sort(key=lambda row: (-row[2], -row[0]))
    ranking = ranking[:MAX_RANKED]
    cache.set(RANKING_KEY, {"snapshot": uuid.uuid4().hex, "rows": ranking}, timeout=settings.REELS_TRENDING_SECONDS * 4)
    return len(ranking)


class TrendingCursorInvalid(ValueError):
    pass


@dataclass(frozen=True)
class TrendingPage:
    reels: list[Reel]
    next_cursor: str | None


def _cursor_encode(snapshot: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{snapshot}:{position}".encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[str, int]:
    try:
        snapshot, position = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        if not snapshot.isalnum() or not position.isdigit():
            raise ValueError(cursor)
        return snapshot, int(position)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrendingCursorInvalid(cursor) from exc


def _ranking() -> dict:
    ranking = cache.get(RANKING_KEY)
    if ranking is None:  # first read after a start or a cache flush: rank now
        trending_refresh()
        ranking = cache.get(RANKING_KEY) or {"snapshot": uuid.uuid4().hex, "rows": []}
    return ranking


def trending_page(*, viewer: User, size: int, cursor: str | None) -> TrendingPage:
    """A page of trending reels for the viewer (TrendingCursorInvalid for a cursor not handed out
    or expired)."""
    if cursor:
        snapshot, position = _cursor_decode(cursor)
        rows = cache.get(SNAPSHOT_KEY.format(snapshot=snapshot))
        if rows is None:
            raise TrendingCursorInvalid(cursor)
    else:
        ranking = _ranking()
        snapshot, position, rows = ranking["snapshot"], 0, ranking["rows"]
        # The pages of this list keep to this ranking even after the next refresh.
        cache.add(SNAPSHOT_KEY.format(snapshot=snapshot), rows, timeout=SNAPSHOT_SECONDS)
    page_rows = rows[position : position + size]
    end = position + len(page_rows)
    hidden = blocked_user_ids(user=viewer)
    ids = [reel_id for reel_id, author_id, _ in page_rows if author_id not in hidden]
    reels = (
        Reel.objects.filter(pk__in=ids, status=Reel.Status.PUBLISHED, author__is_active=True)
        .select_related("author")
        .in_bulk()
    )
    return TrendingPage(
        reels=[reels[reel_id] for reel_id in ids if reel_id in reels],
        next_cursor=_cursor_encode(snapshot, end) if end < len(rows) else None,
    )
