"""Writes of the gifts app: sending a gift, keeping the catalogue cache and the boards current."""

import contextlib
import functools
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from apps.accounts.exceptions import AccountBanned, AccountInactive, UserBlocked
from apps.accounts.models import Block, User, adult_born_by
from apps.accounts.services import user_require_adult
from apps.core import metrics
from apps.core.db import prepared_cursor
from apps.core.exceptions import IdempotencyKeyReused, NotFound
from apps.gifts import leaderboards
from apps.gifts.exceptions import CannotGiftSelf, GiftNeedsOg, QuantityOutOfRange
from apps.gifts.leaderboards import SendFigures
from apps.gifts.models import Gift, GiftSend
from apps.gifts.selectors import CATALOGUE_CACHE_KEY, gift_get_sendable, gift_target, user_has_og
from apps.live.events import room_event_publish
from apps.live.exceptions import StreamNotLive
from apps.live.models import Stream
from apps.live.selectors import stream_get
from apps.live.services import pk_gift_note
from apps.wallet.exceptions import DuplicateEntry
from apps.wallet.models import Account, JournalEntry, Posting
from apps.wallet.selectors import coins_balance
from apps.wallet.services import coins_spend

logger = logging.getLogger(__name__)

QUANTITY_MAX = 999
GIFT_ENTRY_KIND = "gift"  # the journal entries of sends


@dataclass(frozen=True)
class GiftSent:
    send: GiftSend
    balance: int  # the sender's coins afterwards
    replayed: bool = False  # True when `ref` had been sent before: this is that first send


def gift_ref(*, sender_id: int, idempotency_key: str) -> str:
    """The ledger reference of a send made with an Idempotency-Key: the same key never pays twice."""
    return f"u{sender_id}:{hashlib.sha256(idempotency_key.encode()).hexdigest()[:48]}"


def gift_split(*, coins: int, rate: int) -> tuple[int, int]:
    """(host share, platform share) of `coins` at `rate` percent for the host, rounded down for the host."""
    host_share = coins * rate // 100
    return host_share, coins - host_share


def gift_send(*, sender_id: int, stream_id: int, gift_id: int, quantity: int, ref: str | None = None) -> GiftSent:
    """Send `quantity` gifts to a live stream's host: debit the sender's coins, credit the host's
    earnings (settings.GIFT_HOST_SHARE_PERCENT) and platform revenue (the rest) as one balanced
    entry, and record the send. After commit the room hears `gift.sent` and the leaderboards move.

    `ref` is the ledger reference (`gift_ref` for an Idempotency-Key): a ref already recorded
    changes nothing and returns that first send (`replayed`), or raises IdempotencyKeyReused when
    the stream, gift or quantity differ.

    On PostgreSQL a send is ONE statement that checks everything and writes everything: the sender's
    debit under their row lock, the host's credit appended (a popular host's row is never locked).
    When it declines, nothing was written, and `_gift_send_checked` runs the checks one by one to
    raise the precise error (or, if something changed meanwhile, sends after all).
    """
    if not 1 <= quantity <= QUANTITY_MAX:
        raise QuantityOutOfRange(details={"quantity": quantity, "min": 1, "max": QUANTITY_MAX})
    ref = ref or uuid.uuid4().hex
    args = {"sender_id": sender_id, "stream_id": stream_id, "gift_id": gift_id, "quantity": quantity, "ref": ref}
    if connection.vendor == "postgresql":
        try:
            # Outside a transaction the statement commits on its own (no BEGIN and COMMIT round
            # trips); inside one, a savepoint keeps a duplicate ref from breaking the caller's work.
            with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
                sent = _gift_send_statement(**args)
        except IntegrityError as exc:
            if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) != JournalEntry.REF_CONSTRAINT:
                raise
            return gift_send_replay(**args)  # the whole statement was undone: a retry pays nothing
        if sent is not None:
            return sent
    return _gift_send_checked(**args)


def gift_send_replay(*, sender_id: int, stream_id: int, gift_id: int, quantity: int, ref: str) -> GiftSent:
    """The send already recorded under `ref`, if it is the same request; IdempotencyKeyReused if not."""
    send = GiftSend.objects.filter(entry__kind=GIFT_ENTRY_KIND, entry__ref=ref).first()
    if send is None or (send.sender_id, send.stream_id, send.gift_id, send.quantity) != (
        sender_id,
        stream_id,
        gift_id,
        quantity,
    ):
        first = {"stream": send.stream_id, "gift": send.gift_id, "quantity": send.quantity} if send else {}
        raise IdempotencyKeyReused(details={"first_request": first})
    balance = send.balance_after if send.balance_after is not None else coins_balance(user_id=sender_id)
    return GiftSent(send=send, balance=balance, replayed=True)


@functools.cache
def _send_sql() -> str:
    """The one statement of a send. Every check of `_gift_send_checked` is a condition here, so an
    accepted send is one that the checks would accept; tables are named by their models."""
    user, block, stream = User._meta.db_table, Block._meta.db_table, Stream._meta.db_table
    gift, send = Gift._meta.db_table, GiftSend._meta.db_table
    account, entry, posting = Account._meta.db_table, JournalEntry._meta.db_table, Posting._meta.db_table
    return f"""
WITH sender AS (
    SELECT id, username, display_name FROM {user}
    WHERE id = %(sender)s AND is_active AND (banned_until IS NULL OR banned_until <= %(at)s)
      AND date_of_birth <= %(born_by)s AND age_verification NOT IN (%(age_pending)s, %(age_rejected)s)
),
target AS (
    SELECT s.host_id FROM {stream} s, sender
    WHERE s.id = %(stream)s AND s.status = %(live)s AND s.host_id <> sender.id
      AND NOT EXISTS (SELECT 1 FROM {block} b WHERE (b.blocker_id = sender.id AND b.blocked_id = s.host_id)
                                                 OR (b.blocker_id = s.host_id AND b.blocked_id = sender.id))
),
split AS (
    SELECT t.host_id, g.id AS gift_id, g.name, g.icon_url, g.animation_url,
           g.coin_price::bigint * %(quantity)s AS coins,
           g.coin_price::bigint * %(quantity)s * %(rate)s / 100 AS host_share
    FROM target t, {gift} g
    WHERE g.id = %(gift)s AND g.is_active AND NOT g.og_only  -- OG-only gifts take the checked path
),
credit AS (
    SELECT a.id, split.host_share AS amount FROM {account} a, split
    WHERE a.owner_id = split.host_id AND a.kind = %(earnings)s AND split.host_share > 0
    UNION ALL
    SELECT a.id, split.coins - split.host_share FROM {account} a, split
    WHERE a.owner_id IS NULL AND a.kind = %(revenue)s AND split.coins > split.host_share
),
debit AS (  -- the only lock taken: the sender's row; the balance is re-checked on its newest version
    UPDATE {account} a SET balance = a.balance - split.coins FROM split
    WHERE a.owner_id = %(sender)s AND a.kind = %(user_coins)s AND a.balance >= split.coins
      AND (SELECT count(*) FROM credit) = (split.host_share > 0)::int + (split.coins > split.host_share)::int
    RETURNING a.id, a.balance, split.coins
),
entry AS (  -- no ON CONFLICT: a ref already recorded raises, and the whole statement is undone
    INSERT INTO {entry} (kind, ref, memo, created_by_id, created_at)
    SELECT %(kind)s, %(ref)s, %(quantity)s || ' x ' || split.name || ' to stream #' || %(stream)s, %(sender)s, %(at)s
    FROM debit, split
    RETURNING id
),
posted AS (
    INSERT INTO {posting} (entry_id, account_id, amount, applied)
    SELECT entry.id, debit.id, -debit.coins, true FROM entry, debit
    UNION ALL
    SELECT entry.id, credit.id, credit.amount, false FROM entry, credit
    RETURNING 1
),
sent AS (
    INSERT INTO {send} (sender_id, host_id, stream_id, gift_id, quantity, coins, host_share, platform_share,
                        rate, entry_id, created_at, balance_after)
    SELECT %(sender)s, split.host_id, %(stream)s, split.gift_id, %(quantity)s, split.coins, split.host_share,
           split.coins - split.host_share, %(rate)s, entry.id, %(at)s, debit.balance
    FROM entry, split, debit
    RETURNING id
)
SELECT sent.id, entry.id, debit.balance, split.host_id, split.coins, split.host_share, split.name,
       split.icon_url, split.animation_url, sender.username, sender.display_name, (SELECT count(*) FROM posted)
FROM sent, entry, debit, split, sender
"""  # noqa: S608


def _gift_send_statement(*, sender_id: int, stream_id: int, gift_id: int, quantity: int, ref: str) -> GiftSent | None:
    """Run the one statement; None when it declined (nothing written)."""
    at = timezone.now()
    rate = settings.GIFT_HOST_SHARE_PERCENT
    params = {
        "sender": sender_id,
        "stream": stream_id,
        "gift": gift_id,
        "quantity": quantity,
        "rate": rate,
        "ref": ref,
        "kind": GIFT_ENTRY_KIND,
        "at": at,
        "born_by": adult_born_by(today=timezone.localdate()),
        "age_pending": User.AgeVerification.PENDING_REVIEW.value,
        "age_rejected": User.AgeVerification.REJECTED.value,
        "live": Stream.Status.LIVE.value,
        "earnings": Account.Kind.HOST_EARNINGS.value,
        "revenue": Account.Kind.REVENUE.value,
        "user_coins": Account.Kind.USER_COINS.value,
    }
    with prepared_cursor() as cursor:  # planned once per connection: planning cost as much as running
        cursor.execute(_send_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    send_id, entry_id, balance, host_id, coins, host_share, name, icon_url, animation_url, username, display_name, n = (
        row
    )
    if n != 1 + (host_share > 0) + (coins > host_share):  # pragma: no cover - the statement is wrong
        logger.error("gift send %s wrote %s postings", send_id, n)
    send = GiftSend(
        id=send_id,
        sender_id=sender_id,
        host_id=host_id,
        stream_id=stream_id,
        gift_id=gift_id,
        quantity=quantity,
        coins=coins,
        host_share=host_share,
        platform_share=coins - host_share,
        rate=rate,
        entry_id=entry_id,
        created_at=at,
        balance_after=balance,
    )
    send._state.adding = False
    send._state.db = connection.alias
    transaction.on_commit(lambda: metrics.coins_moved(kind=GIFT_ENTRY_KIND, coins=coins))
    gift = {"id": gift_id, "name": name, "icon_url": icon_url, "animation_url": animation_url}
    _announce(
        send=send, gift=gift, sender={"id": sender_id, "username": username, "display_name": display_name or username}
    )
    return GiftSent(send=send, balance=balance)


def _gift_send_checked(*, sender_id: int, stream_id: int, gift_id: int, quantity: int, ref: str) -> GiftSent:
    """The send step by step: each check raises its own error. The embedded default (SQLite) always
    sends this way; on PostgreSQL it runs when the one statement declined, and for OG-only gifts."""
    sender = User.objects.filter(pk=sender_id).first()
    if sender is None or not sender.is_active:
        raise AccountInactive()
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
    try:
        with transaction.atomic():
            spend = coins_spend(
                payer_id=sender.pk,
                credits=credits,
                kind=GIFT_ENTRY_KIND,
                ref=ref,
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
                balance_after=spend.balance,
            )
            gift_event = {
                "id": gift.id,
                "name": gift.name,
                "icon_url": gift.icon_url,
                "animation_url": gift.animation_url,
            }
            _announce(
                send=send,
                gift=gift_event,
                sender={"id": sender.pk, "username": sender.username, "display_name": sender.name},
            )
    except DuplicateEntry:
        return gift_send_replay(sender_id=sender_id, stream_id=stream_id, gift_id=gift_id, quantity=quantity, ref=ref)
    return GiftSent(send=send, balance=spend.balance)


def _announce(*, send: GiftSend, gift: dict, sender: dict) -> None:
    """After commit: the room's `gift.sent` event, the metrics and the leaderboards."""
    room_event_publish(
        stream_id=send.stream_id,
        event_type="gift.sent",
        payload={"id": send.pk, "sender": sender, "gift": gift, "quantity": send.quantity, "coins": send.coins},
    )
    figures = SendFigures(
        sender_id=send.sender_id,
        host_id=send.host_id,
        stream_id=send.stream_id,
        coins=send.coins,
        host_share=send.host_share,
        created_at=send.created_at,
    )
    transaction.on_commit(lambda: _after_send(figures))


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
    pk_gift_note(stream_id=figures.stream_id)  # a live PK score, when the stream is in a battle


def leaderboard_record(*, sends: list[SendFigures]) -> None:
    """Count committed sends in the Redis boards (the SQL backend needs nothing). A failure is logged,
    not raised: the coins already moved, and `gifts_leaderboard_rebuild` restores the boards."""
    if settings.GIFT_LEADERBOARD_BACKEND != "redis":
        return
    try:
        for send in sends:
            leaderboards.redis_count(send)
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
