"""Reads of the gift catalogue, sends, statements and leaderboards."""

import importlib
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import Block, User
from apps.gifts import leaderboards
from apps.gifts.exceptions import GiftUnavailable
from apps.gifts.leaderboards import Board, Period
from apps.gifts.models import Gift, GiftSend
from apps.live.models import Stream

CATALOGUE_CACHE_KEY = "gifts:catalogue:v1"


@dataclass(frozen=True)
class GiftInfo:
    """A catalogue entry as cached (the send path never reads the gift table)."""

    id: int
    name: str
    coin_price: int
    icon_url: str
    animation_url: str
    category: str
    og_only: bool
    order: int

    def as_dict(self) -> dict:
        return asdict(self)


def gift_catalogue() -> list[GiftInfo]:
    """Active gifts in tray order, cached (admins' edits clear the cache; it also expires)."""
    catalogue = cache.get(CATALOGUE_CACHE_KEY)
    if catalogue is None:
        catalogue = [
            GiftInfo(
                id=g.pk,
                name=g.name,
                coin_price=g.coin_price,
                icon_url=g.icon_url,
                animation_url=g.animation_url,
                category=g.category,
                og_only=g.og_only,
                order=g.order,
            )
            for g in Gift.objects.filter(is_active=True)
        ]
        cache.set(CATALOGUE_CACHE_KEY, catalogue, settings.GIFT_CATALOGUE_CACHE_SECONDS)
    return catalogue


def gift_get_sendable(*, gift_id: int) -> GiftInfo:
    """An active gift from the cached catalogue; GiftUnavailable for unknown or inactive ones."""
    for gift in gift_catalogue():
        if gift.id == gift_id:
            return gift
    raise GiftUnavailable(details={"gift": gift_id})


def user_has_og(*, user_id: int) -> bool:
    """Whether the user may send OG-only gifts, asked of the og app.

    The og app's `user_can_send_og_gifts` (an active tier with the OG-only-gifts perk) decides;
    without it, `user_has_active_og` (any active tier); without an og app, nobody counts as OG.
    """
    try:
        og_selectors = importlib.import_module("apps.og.selectors")
    except ModuleNotFoundError as exc:
        if exc.name != "apps.og.selectors":
            raise
        return False
    check = getattr(og_selectors, "user_can_send_og_gifts", None) or getattr(og_selectors, "user_has_active_og", None)
    return bool(check(user_id=user_id)) if check is not None else False


@dataclass(frozen=True)
class GiftTarget:
    host_id: int
    is_live: bool
    blocked: bool  # the sender and the host blocked one another (either way)


_TARGET_SQL = None


def gift_target(*, stream_id: int, sender_id: int) -> GiftTarget | None:
    """The stream's host, whether it is live and whether sender and host block each other; None when
    there is no such stream.

    The hot path of every gift, so it is ONE raw statement: through the ORM, `stream_get` plus
    `is_blocked_between` cost about fourteen times the CPU (measured in tests/bench/bench_gifts.py).
    It reads the live and accounts tables by their models' names and constants, with the same
    meaning as `Stream.is_live` and `is_blocked_between`.
    """
    global _TARGET_SQL
    if _TARGET_SQL is None:
        stream, block = Stream._meta.db_table, Block._meta.db_table
        _TARGET_SQL = (
            f"SELECT s.host_id, s.status = %s, EXISTS (SELECT 1 FROM {block} b "  # noqa: S608
            "WHERE (b.blocker_id = %s AND b.blocked_id = s.host_id) "
            "OR (b.blocker_id = s.host_id AND b.blocked_id = %s)) "
            f"FROM {stream} s WHERE s.id = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(_TARGET_SQL, [Stream.Status.LIVE.value, sender_id, sender_id, stream_id])
        row = cursor.fetchone()
    return GiftTarget(host_id=row[0], is_live=bool(row[1]), blocked=bool(row[2])) if row else None


def host_statement(*, host: User, start: datetime, end: datetime) -> QuerySet[GiftSend]:
    """Every gift the host received in [start, end), oldest first, with sender and gift."""
    return (
        GiftSend.objects.filter(host=host, created_at__gte=start, created_at__lt=end)
        .select_related("sender", "gift")
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    user: User
    coins: int


def leaderboard_top(
    *, board: Board, period: Period = Period.ALL, stream_id: int | None = None, limit: int = 20
) -> list[LeaderboardRow]:
    """The top of a leaderboard with its users (two round trips: the board, then the users)."""
    now = timezone.now()
    reader = leaderboards.redis_top if settings.GIFT_LEADERBOARD_BACKEND == "redis" else leaderboards.sql_top
    rows = reader(board, period, now=now, stream_id=stream_id, limit=limit)
    users = User.objects.in_bulk([user_id for user_id, _ in rows])
    ranked = [(users[user_id], coins) for user_id, coins in rows if user_id in users]
    return [LeaderboardRow(rank=i, user=user, coins=coins) for i, (user, coins) in enumerate(ranked, start=1)]
