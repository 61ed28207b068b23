"""Trending live streams: a ranking recomputed by a beat task, so reading it is a cache read.

Every LIVE_TRENDING_SECONDS `live.trending_refresh` scores each stream that is live, whose host is
neither banned nor deactivated, and whose gifting moderation has not paused (a stream under review
for a possible minor is kept out of discovery):

    base  = (1 + viewers + GIFT_WEIGHT * gift_coins_last_N_minutes) * freshness
    freshness = 1 + FRESH_BOOST / (1 + minutes_live / FRESH_MINUTES)

`viewers` is the room's current count; the gift coins are those sent to the stream in the last
LIVE_TRENDING_GIFT_MINUTES, read from the gift records through the reader the gifts app registers
(live sits below gifts and cannot read them itself); `freshness` gives a stream that just started up
to FRESH_BOOST more, halving after FRESH_MINUTES. The ranked (stream, host, base) list is cached.

A signed-in viewer's first page multiplies each base by the follow graph:

    x (1 + FOLLOW_BOOST)                                if the viewer follows the host
    x (1 + FRIENDS_BOOST * min(k, FRIENDS_CAP) / FRIENDS_CAP)   otherwise, k = people the viewer
                                                          follows who follow the host

and leaves out hosts blocked either way. The result is a snapshot the cursor pages through (as the
active list does); streams that ended since are dropped from the page they would be on.
"""

import base64
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.selectors import blocked_user_ids, followed_among
from apps.live.exceptions import InvalidCursor
from apps.live.models import Stream

logger = logging.getLogger(__name__)

GIFT_WEIGHT = 0.1  # 10 coins in the window weigh as one viewer
FRESH_BOOST = 0.5
FRESH_MINUTES = 30.0
FOLLOW_BOOST = 1.0
FRIENDS_BOOST = 0.5
FRIENDS_CAP = 5
MAX_RANKED = 1000  # the list's length: beyond it nobody scrolls

RANKING_KEY = "live:trending:ranking"
SNAPSHOT_KEY = "live:trending:snapshot:{snapshot}"
SNAPSHOT_SECONDS = 600

GiftVelocityReader = Callable[..., dict[int, int]]  # reader(stream_ids=, since=) -> {stream id: coins}
_gift_velocity_reader: GiftVelocityReader | None = None


def stream_gift_velocity_reader_register(reader: GiftVelocityReader) -> None:
    """Say where the coins gifted to streams since a time come from (the gifts app, at start-up)."""
    global _gift_velocity_reader
    _gift_velocity_reader = reader


def trending_base_score(*, viewers: int, gift_coins: int, minutes_live: float) -> float:
    freshness = 1.0 + FRESH_BOOST / (1.0 + max(minutes_live, 0.0) / FRESH_MINUTES)
    return (1.0 + viewers + GIFT_WEIGHT * gift_coins) * freshness


def follow_multiplier(*, follows_host: bool, friends_following: int) -> float:
    if follows_host:
        return 1.0 + FOLLOW_BOOST
    return 1.0 + FRIENDS_BOOST * min(friends_following, FRIENDS_CAP) / FRIENDS_CAP


def _eligible(now: datetime) -> Any:
    return (
        Stream.objects.filter(status=Stream.Status.LIVE, gifting_paused_at__isnull=True, host__is_active=True)
        .exclude(Q(host__banned_until__gt=now))
        .values_list("pk", "host_id", "current_viewers", "started_at")
    )


def trending_refresh() -> int:
    """Score every eligible live stream and cache the ranking (the beat task). Returns how many."""
    now = timezone.now()
    rows = list(_eligible(now))
    since = now - timedelta(minutes=settings.LIVE_TRENDING_GIFT_MINUTES)
    coins: dict[int, int] = {}
    if rows and _gift_velocity_reader is not None:
        coins = _gift_velocity_reader(stream_ids=[row[0] for row in rows], since=since)
    ranking = []
    for stream_id, host_id, viewers, started_at in rows:
        minutes = (now - (started_at or now)).total_seconds() / 60.0
        score = trending_base_score(viewers=viewers, gift_coins=coins.get(stream_id, 0), minutes_live=minutes)
        ranking.append((stream_id, host_id, round(score, 4)))
    ranking.sort(key=lambda row: (-row[2], -row[0]))
    ranking = ranking[:MAX_RANKED]
    # Kept a few periods: a missed beat leaves the last ranking rather than none.
    cache.set(RANKING_KEY, ranking, timeout=max(settings.LIVE_TRENDING_SECONDS * 4, 60))
    return len(ranking)


def _ranking() -> list[tuple[int, int, float]]:
    ranking = cache.get(RANKING_KEY)
    if ranking is None:  # first read after a start or a cache flush: rank now
        trending_refresh()
        ranking = cache.get(RANKING_KEY) or []
    return ranking


def trending_for_viewer(*, viewer: User) -> list[tuple[int, float]]:
    """(stream id, score) for this viewer, best first: the cached ranking with the follow boost."""
    hidden = blocked_user_ids(user=viewer)
    ranking = [row for row in _ranking() if row[1] not in hidden and row[1] != viewer.pk]
    followed, friends = followed_among(user=viewer, candidate_ids=[host_id for _, host_id, _ in ranking])
    scored = [
        (
            stream_id,
            round(
                score * follow_multiplier(follows_host=host_id in followed, friends_following=friends.get(host_id, 0)),
                4,
            ),
        )
        for stream_id, host_id, score in ranking
    ]
    scored.sort(key=lambda row: (-row[1], -row[0]))
    return scored


@dataclass(frozen=True)
class TrendingPage:
    count: int
    next_cursor: str | None
    results: list[tuple[int, float]]  # (stream id, score), ended streams still in; the caller drops them


def _cursor_encode(snapshot: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"t{snapshot}:{position}".encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        snapshot, position = raw[1:].split(":")
        if not raw.startswith("t") or not snapshot.isalnum() or not position.isdigit():
            raise ValueError(cursor)
        return snapshot, int(position)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None


def trending_page(*, viewer: User, limit: int, cursor: str | None) -> TrendingPage:
    if cursor:
        snapshot, position = _cursor_decode(cursor)
        scored = cache.get(SNAPSHOT_KEY.format(snapshot=snapshot))
        if scored is None:
            raise InvalidCursor("This list has expired; start again from the first page.")
    else:
        snapshot, position = uuid.uuid4().hex, 0
        scored = trending_for_viewer(viewer=viewer)
        if len(scored) > limit:  # only a list with more pages needs keeping
            cache.set(SNAPSHOT_KEY.format(snapshot=snapshot), scored, timeout=SNAPSHOT_SECONDS)
    page = scored[position : position + limit]
    end = position + len(page)
    return TrendingPage(
        count=len(scored),
        next_cursor=_cursor_encode(snapshot, end) if end < len(scored) else None,
        results=[(stream_id, score) for stream_id, score in page],
    )
