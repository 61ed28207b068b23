"""Leaderboards: top gifters and top earning hosts (today, this week, all time) and top gifters of a stream.

Two backends share one meaning, the sums over GiftSend:
- "redis": sorted sets bumped after sends commit and read with ZREVRANGE. Each process gathers its
  committed sends for GIFT_LEADERBOARD_FLUSH_SECONDS and adds them in one pipeline, summed per
  board and member (a popular host's hundred gifts are one ZINCRBY); a read flushes its own process
  first. `manage.py gifts_leaderboard_rebuild` recomputes the boards from GiftSend.
- "sql": aggregates over GiftSend (indexed by time, host and stream), cached for a few seconds.
settings.GIFT_LEADERBOARD_BACKEND picks one; tests/bench/bench_gifts.py measures both.
"Today" and "this week" (ISO weeks, from Monday) are in settings.TIME_ZONE, by the send's time.
"""

import functools
import logging
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum

from apps.core.redis_keys import deployment_key
from apps.gifts.models import GiftSend

logger = logging.getLogger(__name__)

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
        return deployment_key(f"{PREFIX}stream:{stream_id}:gifters")
    return deployment_key(f"{PREFIX}{board}:{_period_tag(period, at)}")


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def redis_record(sends: list[SendFigures]) -> None:
    """Add the sends to every sorted set they count in: one round trip, one ZINCRBY per board and member."""
    increments: dict[tuple[str, int], int] = defaultdict(int)
    ttls: dict[str, int] = {}
    for s in sends:
        for period, ttl in ((Period.DAY, DAY_KEY_TTL), (Period.WEEK, WEEK_KEY_TTL), (Period.ALL, None)):
            for board, member, score in ((Board.GIFTERS, s.sender_id, s.coins), (Board.HOSTS, s.host_id, s.host_share)):
                key = redis_key(board, period, s.created_at)
                increments[(key, member)] += score
                if ttl:
                    ttls[key] = ttl
        stream_key = redis_key(Board.STREAM, Period.ALL, s.created_at, s.stream_id)
        increments[(stream_key, s.sender_id)] += s.coins
        ttls[stream_key] = STREAM_KEY_TTL
    pipe = _client().pipeline(transaction=False)
    for (key, member), score in increments.items():
        if score:
            pipe.zincrby(key, score, member)
    for key, ttl in ttls.items():
        pipe.expire(key, ttl)
    pipe.execute()


class _PendingSends:
    """Committed sends of this process not yet in the boards, added by a daemon thread every
    GIFT_LEADERBOARD_FLUSH_SECONDS (at most 1 s). A lost flush is logged; the rebuild restores the boards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sends: list[SendFigures] = []
        self._pid: int | None = None

    def add(self, send: SendFigures) -> None:
        with self._lock:
            if self._pid != os.getpid():
                # A forked child holds a copy of its parent's pending sends: the parent counts those.
                self._sends, self._pid = [], os.getpid()
                threading.Thread(target=self._run, name="leaderboard-flush", daemon=True).start()
            self._sends.append(send)

    def flush(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                return
            sends, self._sends = self._sends, []
        if sends:
            redis_record(sends)

    def _run(self) -> None:
        while True:
            time.sleep(min(settings.GIFT_LEADERBOARD_FLUSH_SECONDS, 1.0))
            try:
                self.flush()
            except Exception:
                logger.exception("leaderboard update lost; run manage.py gifts_leaderboard_rebuild")


pending = _PendingSends()


def redis_count(send: SendFigures) -> None:
    """Count a committed send: at the next flush, or at once when GIFT_LEADERBOARD_FLUSH_SECONDS is 0."""
    if settings.GIFT_LEADERBOARD_FLUSH_SECONDS > 0:
        pending.add(send)
    else:
        redis_record([send])


def redis_top(
    board: Board, period: Period, *, now: datetime, stream_id: int | None, limit: int
) -> list[tuple[int, int]]:
    pending.flush()  # this process's own sends are on the board it reads
    # redis-py types every command for its async client too (Awaitable | Any): this one is synchronous.
    rows = cast(
        list[tuple[bytes, float]],
        _client().zrevrange(redis_key(board, period, now, stream_id), 0, limit - 1, withscores=True),
    )
    return [(int(member), int(score)) for member, score in rows]


def sql_totals(
    board: Board, period: Period, *, now: datetime, stream_id: int | None, limit: int | None
) -> list[tuple[int, int]]:
    """The leaderboard computed from GiftSend: [(user id, coins)], highest first."""
    qs = GiftSend.objects.all()
    if board == Board.STREAM:
        qs = qs.filter(stream_id=stream_id) if stream_id is not None else qs.none()
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
    pending.flush()  # this process's waiting sends are in GiftSend already: counting them later would double them
    client = _client()
    targets: list[tuple[Board, Period, int | None]] = [
        (board, period, None) for board in (Board.GIFTERS, Board.HOSTS) for period in Period
    ]
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
