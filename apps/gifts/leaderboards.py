"""Leaderboards: top gifters and top earning hosts (today, this week, all time) and top gifters of a stream.

Two backends share one meaning, the sums over GiftSend:
- "redis": sorted sets bumped after each send commits (one pipelined round trip per send) and read
  with ZREVRANGE; `manage.py gifts_leaderboard_rebuild` recomputes them from GiftSend.
- "sql": aggregates over GiftSend (indexed by time, host and stream), cached for a few seconds.
settings.GIFT_LEADERBOARD_BACKEND picks one; tests/bench/bench_gifts.py measures both.
"Today" and "this week" (ISO weeks, from Monday) are in settings.TIME_ZONE, by the send's time.
"""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum

from apps.gifts.models import GiftSend

PREFIX = "hb:lb:"
DAY_KEY_TTL = 3 * 86400
WEEK_KEY_TTL = 15 * 86400
STREAM_KEY_TTL = 30 * 86400


class Board(StrEnum):
    GIFTERS = "gifters"  # senders by coins spent
    HOSTS = "hosts"  # hosts by coins earned (their share)
    STREAM = "stream"  # senders to one stream by coins spent


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    ALL = "all"


@dataclass(frozen=True)
class SendFigures:
    """What a leaderboard needs of a send (kept small so it can be queued after commit)."""

    sender_id: int
    host_id: int
    stream_id: int
    coins: int
    host_share: int
    created_at: datetime


def _local(at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(settings.TIME_ZONE))


def period_start(period: Period, at: datetime) -> datetime | None:
    """The first instant of the day or week containing `at` (local time); None for all time."""
    local = _local(at)
    if period == Period.ALL:
        return None
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == Period.DAY:
        return day
    return day - timedelta(days=local.weekday())


def _period_tag(period: Period, at: datetime) -> str:
    local = _local(at)
    if period == Period.DAY:
        return local.strftime("day:%Y%m%d")
    if period == Period.WEEK:
        year, week, _ = local.isocalendar()
        return f"week:{year}W{week:02d}"
    return "all"


def redis_key(board: Board, period: Period, at: datetime, stream_id: int | None = None) -> str:
    if board == Board.STREAM:
        return f"{PREFIX}stream:{stream_id}:gifters"
    return f"{PREFIX}{board}:{_period_tag(period, at)}"


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def redis_record(sends: list[SendFigures]) -> None:
    """Add the sends to every sorted set they count in: one round trip."""
    pipe = _client().pipeline(transaction=False)
    for s in sends:
        for period, ttl in ((Period.DAY, DAY_KEY_TTL), (Period.WEEK, WEEK_KEY_TTL), (Period.ALL, None)):
            for board, member, score in ((Board.GIFTERS, s.sender_id, s.coins), (Board.HOSTS, s.host_id, s.host_share)):
                key = redis_key(board, period, s.created_at)
                if score:
                    pipe.zincrby(key, score, member)
                if ttl:
                    pipe.expire(key, ttl)
        stream_key = redis_key(Board.STREAM, Period.ALL, s.created_at, s.stream_id)
        pipe.zincrby(stream_key, s.coins, s.sender_id)
        pipe.expire(stream_key, STREAM_KEY_TTL)
    pipe.execute()


def redis_top(
    board: Board, period: Period, *, now: datetime, stream_id: int | None, limit: int
) -> list[tuple[int, int]]:
    rows = _client().zrevrange(redis_key(board, period, now, stream_id), 0, limit - 1, withscores=True)
    return [(int(member), int(score)) for member, score in rows]


def sql_totals(
    board: Board, period: Period, *, now: datetime, stream_id: int | None, limit: int | None
) -> list[tuple[int, int]]:
    """The leaderboard computed from GiftSend: [(user id, coins)], highest first."""
    qs = GiftSend.objects.all()
    if board == Board.STREAM:
        qs = qs.filter(stream_id=stream_id)
    else:
        start = period_start(period, now)
        if start is not None:
            qs = qs.filter(created_at__gte=start)
    who, what = ("host_id", "host_share") if board == Board.HOSTS else ("sender_id", "coins")
    rows = qs.values(who).annotate(total=Sum(what)).filter(total__gt=0).order_by("-total", who)
    if limit is not None:
        rows = rows[:limit]
    return [(row[who], int(row["total"])) for row in rows]


def sql_top(board: Board, period: Period, *, now: datetime, stream_id: int | None, limit: int) -> list[tuple[int, int]]:
    key = f"{PREFIX}sql:{redis_key(board, period, now, stream_id)}:{limit}"
    rows = cache.get(key)
    if rows is None:
        rows = sql_totals(board, period, now=now, stream_id=stream_id, limit=limit)
        cache.set(key, rows, settings.GIFT_LEADERBOARD_CACHE_SECONDS)
    return rows


def redis_rebuild(*, now: datetime, stream_ids: list[int]) -> int:
    """Recompute the current day, week and all-time sets and the given streams' sets from GiftSend.

    Each set is written under a temporary key and renamed over the live one, so readers never see
    a half-built board. A send that commits while its board is being rebuilt may be counted twice
    or not at all in that board until the next rebuild: run it when the counters are suspect.
    Returns the number of sets written.
    """
    client = _client()
    targets = [(board, period, None) for board in (Board.GIFTERS, Board.HOSTS) for period in Period]
    targets += [(Board.STREAM, Period.ALL, stream_id) for stream_id in stream_ids]
    for board, period, stream_id in targets:
        key = redis_key(board, period, now, stream_id)
        rows = sql_totals(board, period, now=now, stream_id=stream_id, limit=None)
        tmp = f"{key}:rebuild"
        pipe = client.pipeline(transaction=True)
        pipe.delete(tmp)
        if rows:
            pipe.zadd(tmp, {str(member): score for member, score in rows})
            pipe.rename(tmp, key)
            ttl = {Period.DAY: DAY_KEY_TTL, Period.WEEK: WEEK_KEY_TTL}.get(period)
            if board == Board.STREAM:
                ttl = STREAM_KEY_TTL
            if ttl:
                pipe.expire(key, ttl)
        else:
            pipe.delete(key)
        pipe.execute()
    return len(targets)
