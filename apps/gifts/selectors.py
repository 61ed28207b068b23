"""Reads of the gift catalogue, sends, statements and leaderboards."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Field, Max, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from apps.accounts.models import User
from apps.gifts import leaderboards
from apps.gifts.exceptions import GiftUnavailable
from apps.gifts.leaderboards import Board, Period
from apps.gifts.models import Gift, GiftSend

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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gift_catalogue() -> list[GiftInfo]:
    """Active gifts in tray order, cached (admins' edits clear the cache; it also expires)."""
    catalogue: list[GiftInfo] | None = cache.get(CATALOGUE_CACHE_KEY)
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


def host_statement(*, host: User, start: datetime, end: datetime) -> QuerySet[GiftSend]:
    """Every gift the host received in [start, end), oldest first, with sender and gift."""
    return (
        GiftSend.objects.filter(host=host, created_at__gte=start, created_at__lt=end)
        .select_related("sender", "gift")
        .order_by("created_at", "id")
    )


def gift_sends_sent(*, user: User) -> QuerySet[GiftSend]:
    """Every gift the user sent, oldest first, with host and gift (their data export)."""
    return GiftSend.objects.filter(sender=user).select_related("host", "gift").order_by("created_at", "id")


def gift_sends_received(*, user: User) -> QuerySet[GiftSend]:
    """Every gift the user received as a host, oldest first, with sender and gift (their data export)."""
    return GiftSend.objects.filter(host=user).select_related("sender", "gift").order_by("created_at", "id")


def gift_send_of_entry(column: str) -> Subquery:
    """`column` of the gift send recorded with the ledger entry of the outer row's `entry_id` (NULL
    when the entry was no gift): how a read of ledger postings says which stream a gift was for."""
    sends = GiftSend.objects.filter(entry_id=OuterRef("entry_id")).values(column)[:1]
    output = GiftSend._meta.get_field(column)
    if not isinstance(output, Field):
        raise TypeError(f"{column} is not a column of the gift send")
    return Subquery(sends, output_field=output)


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


def stream_gift_coins(*, stream_id: int, host_id: int, since: datetime, until: datetime) -> int:
    """Coins gifted to the host in the stream in [since, until): a sum on the (host, created_at)
    index. PK battles count their sides with it (GiftsConfig.ready() registers it with live)."""
    coins = GiftSend.objects.filter(
        host_id=host_id, stream_id=stream_id, created_at__gte=since, created_at__lt=until
    ).aggregate(coins=Sum("coins"))["coins"]
    return int(coins or 0)


def stream_gift_totals_now(*, stream_id: int) -> tuple[int, int]:
    """(coins, gifts: the sum of quantities) of every send to the stream so far: an index-only sum on
    (stream, sender) INCLUDE (coins, quantity), so the API's figures are current without writing the
    stream's row on each send. Registered with live (GiftsConfig.ready())."""
    totals = GiftSend.objects.filter(stream_id=stream_id).aggregate(coins=Sum("coins"), gifts=Sum("quantity"))
    return int(totals["coins"] or 0), int(totals["gifts"] or 0)


def stream_gift_coins_since(*, stream_ids: list[int], since: datetime) -> dict[int, int]:
    """Coins gifted to each of the streams since then (on the created_at index): the trending
    list's gift velocity (GiftsConfig.ready() registers it with live)."""
    rows = (
        GiftSend.objects.filter(created_at__gte=since, stream_id__in=stream_ids)
        .values("stream_id")
        .annotate(coins=Sum("coins"))
        .order_by()
    )
    return {row["stream_id"]: int(row["coins"]) for row in rows}


def stream_gift_totals(*, gifted_since: datetime) -> list[tuple[int, int, int]]:
    """(stream id, coins, gifts: the sum of quantities) of every stream gifted since then, over all
    its sends."""
    stream_ids = GiftSend.objects.filter(created_at__gte=gifted_since).values_list("stream_id", flat=True).distinct()
    totals = (
        GiftSend.objects.filter(stream_id__in=list(stream_ids.order_by()))
        .values("stream_id")
        .annotate(coins=Sum("coins"), gifts=Sum("quantity"))
        .order_by()
    )
    return [(row["stream_id"], row["coins"], row["gifts"]) for row in totals]


@dataclass(frozen=True)
class GiftReceipts:
    """A host's gifts received among the sends of one collection."""

    host_id: int
    sends: int
    coins: int
    last_sender_id: int


def gift_receipts_between(*, after_id: int, up_to_id: int) -> list[GiftReceipts]:
    """Per host, the gift sends with after_id < id <= up_to_id: how many, their coins and the latest
    sender (two queries, however many sends)."""
    window = GiftSend.objects.filter(pk__gt=after_id, pk__lte=up_to_id)
    totals = list(
        window.values("host_id").annotate(sends=Count("pk"), coins=Sum("coins"), last_id=Max("pk")).order_by("host_id")
    )
    last_sender = dict(
        GiftSend.objects.filter(pk__in=[row["last_id"] for row in totals]).values_list("pk", "sender_id")
    )
    return [
        GiftReceipts(
            host_id=row["host_id"], sends=row["sends"], coins=row["coins"], last_sender_id=last_sender[row["last_id"]]
        )
        for row in totals
    ]


def gift_send_last_id() -> int:
    return GiftSend.objects.aggregate(last=Max("pk"))["last"] or 0
