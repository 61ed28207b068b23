"""Writes of the gifts app: sending a gift, keeping the catalogue cache and the boards current."""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from apps.accounts.exceptions import AccountBanned, UserBlocked
from apps.accounts.models import User
from apps.accounts.services import user_require_adult
from apps.core import metrics
from apps.core.exceptions import NotFound
from apps.gifts import leaderboards
from apps.gifts.exceptions import CannotGiftSelf, GiftNeedsOg, QuantityOutOfRange
from apps.gifts.leaderboards import SendFigures
from apps.gifts.models import GiftSend
from apps.gifts.selectors import CATALOGUE_CACHE_KEY, gift_get_sendable, gift_target, user_has_og
from apps.live.events import room_event_publish
from apps.live.exceptions import StreamNotLive
from apps.live.models import Stream
from apps.live.selectors import stream_get
from apps.wallet.models import Account
from apps.wallet.services import coins_spend

logger = logging.getLogger(__name__)

QUANTITY_MAX = 999


@dataclass(frozen=True)
class GiftSent:
    send: GiftSend
    balance: int  # the sender's coins afterwards


def gift_ref(*, sender_id: int, idempotency_key: str) -> str:
    """The ledger reference of a send made with an Idempotency-Key: the same key never pays twice."""
    return f"u{sender_id}:{hashlib.sha256(idempotency_key.encode()).hexdigest()[:48]}"


def gift_split(*, coins: int, rate: int) -> tuple[int, int]:
    """(host share, platform share) of `coins` at `rate` percent for the host, rounded down for the host."""
    host_share = coins * rate // 100
    return host_share, coins - host_share


def gift_send(*, sender: User, stream_id: int, gift_id: int, quantity: int, ref: str | None = None) -> GiftSent:
    """Send `quantity` gifts to a live stream's host: one transaction that debits the sender's coins,
    credits the host's earnings (settings.GIFT_HOST_SHARE_PERCENT) and platform revenue (the rest)
    and records the send. After commit the room hears `gift.sent` and the leaderboards move.

    The checks read no locked rows; only the sender's coin row is locked, by the debit. The host's
    row is never locked: its credit is appended and rolled up later, so a popular host's gifts do
    not queue behind one another. Call it outside a transaction, or let its errors roll yours back.
    """
    if not 1 <= quantity <= QUANTITY_MAX:
        raise QuantityOutOfRange(details={"quantity": quantity, "min": 1, "max": QUANTITY_MAX})
    gift = gift_get_sendable(gift_id=gift_id)
    if sender.is_banned:
        raise AccountBanned(details={"banned_until": sender.banned_until.isoformat(), "reason": sender.ban_reason})
    user_require_adult(user=sender)
    target = gift_target(stream_id=stream_id, sender_id=sender.pk)
    if target is None:
        stream_get(stream_id=stream_id)  # raises the live app's NotFound
        raise NotFound("No such stream.")
    if not target.is_live:
        raise StreamNotLive(details={"stream": stream_id})
    if target.host_id == sender.pk:
        raise CannotGiftSelf()
    if target.blocked:
        raise UserBlocked()
    if gift.og_only and not user_has_og(user_id=sender.pk):
        raise GiftNeedsOg(details={"gift": gift.id})

    coins = gift.coin_price * quantity
    rate = settings.GIFT_HOST_SHARE_PERCENT
    host_share, platform_share = gift_split(coins=coins, rate=rate)
    credits = [
        (owner, kind, amount)
        for owner, kind, amount in (
            (target.host_id, Account.Kind.HOST_EARNINGS, host_share),
            (None, Account.Kind.REVENUE, platform_share),
        )
        if amount > 0
    ]
    # No savepoint of its own (two round trips saved on the hot path): inside a caller's transaction
    # an error here marks that transaction for rollback, as a request wants anyway.
    with transaction.atomic(savepoint=False):
        spend = coins_spend(
            payer_id=sender.pk,
            credits=credits,
            kind="gift",
            ref=ref or uuid.uuid4().hex,
            memo=f"{quantity} x {gift.name} to stream #{stream_id}",
            created_by_id=sender.pk,
        )
        send = _gift_send_insert(
            sender_id=sender.pk,
            host_id=target.host_id,
            stream_id=stream_id,
            gift_id=gift.id,
            quantity=quantity,
            coins=coins,
            host_share=host_share,
            platform_share=platform_share,
            rate=rate,
            entry_id=spend.entry_id,
            created_at=spend.created_at,
        )
        room_event_publish(
            stream_id=stream_id,
            event_type="gift.sent",
            payload={
                "id": send.pk,
                "sender": {"id": sender.pk, "username": sender.username, "display_name": sender.name},
                "gift": {
                    "id": gift.id,
                    "name": gift.name,
                    "icon_url": gift.icon_url,
                    "animation_url": gift.animation_url,
                },
                "quantity": quantity,
                "coins": coins,
            },
        )
        figures = SendFigures(
            sender_id=sender.pk,
            host_id=target.host_id,
            stream_id=stream_id,
            coins=coins,
            host_share=host_share,
            created_at=spend.created_at,
        )
        transaction.on_commit(lambda: _after_send(figures))
    return GiftSent(send=send, balance=spend.balance)


def _gift_send_insert(**fields) -> GiftSend:
    """INSERT the send in one raw statement (the ORM's insert costs several times the CPU here)."""
    columns = list(fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {GiftSend._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
            list(fields.values()),
        )
        send = GiftSend(id=cursor.fetchone()[0], **fields)
    send._state.adding = False
    send._state.db = connection.alias
    return send


def _after_send(figures: SendFigures) -> None:
    metrics.gift_sent(coins=figures.coins)
    leaderboard_record(sends=[figures])


def leaderboard_record(*, sends: list[SendFigures]) -> None:
    """Count committed sends in the Redis boards (the SQL backend needs nothing). A failure is logged,
    not raised: the coins already moved, and `gifts_leaderboard_rebuild` restores the boards."""
    if settings.GIFT_LEADERBOARD_BACKEND != "redis":
        return
    try:
        leaderboards.redis_record(sends)
    except Exception:
        logger.exception("leaderboard update lost; run manage.py gifts_leaderboard_rebuild")


def leaderboard_rebuild(*, stream_days: int = 30) -> int:
    """Recompute the Redis boards from GiftSend (streams that got gifts in the last `stream_days`)."""
    since = timezone.now() - timedelta(days=stream_days)
    stream_ids = list(
        GiftSend.objects.filter(created_at__gte=since).values_list("stream_id", flat=True).distinct().order_by()
    )
    return leaderboards.redis_rebuild(now=timezone.now(), stream_ids=stream_ids)


def gift_catalogue_invalidate() -> None:
    """Drop the cached catalogue (after any change to a gift)."""
    cache.delete(CATALOGUE_CACHE_KEY)


def stream_gift_totals_refresh(*, window_minutes: int = 15) -> int:
    """Set Stream.gift_coins_total and gifts_count (gifts, i.e. the sum of quantities) from GiftSend
    for streams that got gifts in the last `window_minutes`. Returns the streams changed.

    Done periodically instead of in each send: one popular stream's row would otherwise be updated
    by every gift and serialise them all (the same hot-row problem the ledger avoids).
    """
    since = timezone.now() - timedelta(minutes=window_minutes)
    stream_ids = GiftSend.objects.filter(created_at__gte=since).values_list("stream_id", flat=True).distinct()
    changed = 0
    totals = (
        GiftSend.objects.filter(stream_id__in=list(stream_ids.order_by()))
        .values("stream_id")
        .annotate(coins=Sum("coins"), gifts=Sum("quantity"), n=Count("id"))
        .order_by()
    )
    for row in totals:
        changed += (
            Stream.objects.filter(pk=row["stream_id"])
            .exclude(gift_coins_total=row["coins"], gifts_count=row["gifts"])
            .update(gift_coins_total=row["coins"], gifts_count=row["gifts"])
        )
    return changed
