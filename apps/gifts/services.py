"""Writes of the gifts app: sending a gift, keeping the catalogue cache and the boards current."""

import contextlib
import functools
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.selectors import user_active_adult_params
from apps.core import metrics
from apps.core.exceptions import DomainError, IdempotencyKeyReused
from apps.gifts import leaderboards
from apps.gifts.exceptions import QuantityOutOfRange
from apps.gifts.leaderboards import SendFigures
from apps.gifts.models import Gift, GiftSend
from apps.gifts.rules import GIFT_RULES, SendFacts, send_refusal_raise
from apps.gifts.selectors import CATALOGUE_CACHE_KEY, gift_get_sendable, stream_gift_totals
from apps.live.combos import ComboSend
from apps.live.events import gift_event_publish
from apps.live.selectors import PkMarker, stream_sql
from apps.live.services import pk_gift_note, stream_gift_totals_set
from apps.wallet.exceptions import DuplicateEntry
from apps.wallet.selectors import coins_balance
from apps.wallet.services import (
    Credit,
    SpendStatement,
    coins_spend,
    coins_spend_guarded,
    spending_allows_sql,
    spending_check,
    spending_lock_sql,
    spending_record,
    spending_sql_params,
    spending_tally_sql,
)
from apps.wallet.types import AccountKind

logger = logging.getLogger(__name__)

QUANTITY_MAX = 999
GIFT_ENTRY_KIND = "gift"  # the journal entries of sends


class SendArgs(TypedDict):
    sender_id: int
    stream_id: int
    gift_id: int
    quantity: int
    ref: str


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


def gift_send(
    *,
    sender_id: int,
    stream_id: int,
    gift_id: int,
    quantity: int,
    ref: str | None = None,
    confirm: bool = False,
    pk_marker: PkMarker | None = None,
) -> GiftSent:
    """Send `quantity` gifts to a live stream's host: debit the sender's coins, credit the host's
    earnings (settings.GIFT_HOST_SHARE_PERCENT) and platform revenue (the rest) as one balanced
    entry, and record the send. After commit the room hears it (`gift.sent` for a large gift, else
    its streak's `gift.combo`: apps.live.combos) and the leaderboards move.

    Within the sender's spending controls (apps.wallet.spending): refused while paused
    (SpendingPaused), past a limit (SpendingLimitReached), past the daily allowance of an account
    without a verified age (AgeVerificationRequired), and, for a gift of more than
    settings.SPENDING_CONFIRM_GIFT_COINS from a new account, until resent with `confirm`
    (ConfirmationRequired). The controls' row lock, the send and the tally go together, so
    concurrent sends of one sender take turns at the limit.

    `ref` is the ledger reference (`gift_ref` for an Idempotency-Key): a ref already recorded
    changes nothing and returns that first send (`replayed`), or raises IdempotencyKeyReused when
    the stream, gift or quantity differ.

    On PostgreSQL a send is ONE statement that checks everything and writes everything: the gift
    rules (apps.gifts.rules) and the spending controls' SQL twins guard the wallet's debit, entry and
    postings, and the send and the tally are recorded beside them; the sender's controls and coin
    rows are the only ones locked (a popular host's row never is). When it declines, nothing was
    written, and the step-by-step path (the controls' `spending_check` in a transaction with
    `_gift_send_checked`) raises the precise error (or, if something changed meanwhile, sends after
    all). A sender's first send always goes that way: it creates their controls row.

    `pk_marker`: whether the stream is in a PK battle, as the caller read it in a round trip of its
    own (the API reads it with the token's state); without it the send reads it after commit. A
    battle that starts between that read and the commit gets its first live score from the next
    gift (its totals, summed from the gift records, count this one either way).
    """
    if not 1 <= quantity <= QUANTITY_MAX:
        raise QuantityOutOfRange(details={"quantity": quantity, "min": 1, "max": QUANTITY_MAX})
    ref = ref or uuid.uuid4().hex
    args = SendArgs(sender_id=sender_id, stream_id=stream_id, gift_id=gift_id, quantity=quantity, ref=ref)
    if connection.vendor == "postgresql":
        # The one statement checks the controls too (their SQL twins) and moves the tally; it declines
        # on anything else, a sender's first spend (no controls row yet) included.
        try:
            with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
                sent = _gift_send_statement(**args, confirm=confirm, pk_marker=pk_marker)
        except DuplicateEntry:
            return gift_send_replay(**args)  # the whole statement was undone: a retry pays nothing
        if sent is not None:
            return sent
    # Declined (or not PostgreSQL): step by step, each check raising its own error.
    try:
        with transaction.atomic():
            try:
                coins = gift_get_sendable(gift_id=gift_id).coin_price * quantity
                controls = spending_check(user_id=sender_id, coins=coins, confirmed=confirm)
            except DomainError:
                if GiftSend.objects.filter(entry__kind=GIFT_ENTRY_KIND, entry__ref=ref).exists():
                    return gift_send_replay(**args)  # a retry of a send that went through is answered
                raise
            if GiftSend.objects.filter(entry__kind=GIFT_ENTRY_KIND, entry__ref=ref).exists():
                return gift_send_replay(**args)
            sent = _gift_send_checked(**args, pk_marker=pk_marker)
            if not sent.replayed:
                spending_record(controls=controls, coins=sent.send.coins)
    except DuplicateEntry:
        return gift_send_replay(**args)
    return sent


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
def _send_statement() -> SpendStatement:
    """The gift's part of the one statement: every rule of GIFT_RULES guards it (an accepted send is
    one the step-by-step checks would accept), the split goes to the host and the platform, and
    the send is recorded with the entry. The wallet writes the ledger's part around it."""
    user, gift, send = User._meta.db_table, Gift._meta.db_table, GiftSend._meta.db_table
    rules = "\n      AND ".join(f"({rule.sql})" for rule in GIFT_RULES)
    total = "g.coin_price::bigint * %(quantity)s"
    allowed = spending_allows_sql(controls="c", user="u", total=total, confirmable=True)
    return SpendStatement(
        guard=f"""{spending_lock_sql(name="ctl", payer="%(sender)s")},
spend AS (
    SELECT u.id AS payer_id, u.id AS created_by, u.username, u.display_name, s.host_id,
           g.id AS gift_id, g.name, g.icon_url, g.animation_url,
           g.coin_price::bigint * %(quantity)s AS total,
           g.coin_price::bigint * %(quantity)s * %(rate)s / 100 AS host_share,
           %(quantity)s || ' x ' || g.name || ' to stream #' || %(stream)s AS memo
    FROM {user} u, {stream_sql()} s, {gift} g, ctl c
    WHERE u.id = %(sender)s AND s.id = %(stream)s AND g.id = %(gift)s
      AND {rules}
      AND {allowed}
)""",  # noqa: S608
        credits=(
            Credit(kind=AccountKind.HOST_EARNINGS, owner="spend.host_id", amount="spend.host_share"),
            Credit(kind=AccountKind.REVENUE, amount="spend.total - spend.host_share"),
        ),
        record=(
            (
                "sent",
                f"""INSERT INTO {send} (sender_id, host_id, stream_id, gift_id, quantity, coins, host_share,
                        platform_share, rate, entry_id, created_at, balance_after)
    SELECT spend.payer_id, spend.host_id, %(stream)s, spend.gift_id, %(quantity)s, spend.total, spend.host_share,
           spend.total - spend.host_share, %(rate)s, entry.id, %(at)s, debit.balance
    FROM entry, spend, debit
    RETURNING id""",  # noqa: S608
            ),
            ("tally", spending_tally_sql(payer="spend.payer_id", total="spend.total", after="spend, debit")),
        ),
        returning="sent.id, spend.host_id, spend.host_share, spend.name, spend.icon_url, spend.animation_url, "
        "spend.username, spend.display_name",
    )


def _gift_send_statement(
    *,
    sender_id: int,
    stream_id: int,
    gift_id: int,
    quantity: int,
    ref: str,
    confirm: bool = False,
    pk_marker: PkMarker | None = None,
) -> GiftSent | None:
    """Run the one statement; None when it declined (nothing written)."""
    at = timezone.now()
    rate = settings.GIFT_HOST_SHARE_PERCENT
    params = {
        "sender": sender_id,
        "stream": stream_id,
        "gift": gift_id,
        "quantity": quantity,
        "rate": rate,
        "at": at,
        **user_active_adult_params(now=at),
        **spending_sql_params(now=at, confirmed=confirm),
    }
    spend = coins_spend_guarded(statement=_send_statement(), kind=GIFT_ENTRY_KIND, ref=ref, params=params, at=at)
    if spend is None:
        return None
    send_id, host_id, host_share, name, icon_url, animation_url, username, display_name = spend.returned
    coins = spend.coins
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
        entry_id=spend.entry_id,
        created_at=at,
        balance_after=spend.balance,
    )
    send._state.adding = False
    send._state.db = connection.alias
    gift = {"id": gift_id, "name": name, "icon_url": icon_url, "animation_url": animation_url}
    _announce(
        send=send,
        gift=gift,
        sender={"id": sender_id, "username": username, "display_name": display_name or username},
        pk_marker=pk_marker,
    )
    return GiftSent(send=send, balance=spend.balance)


def _gift_send_checked(
    *, sender_id: int, stream_id: int, gift_id: int, quantity: int, ref: str, pk_marker: PkMarker | None = None
) -> GiftSent:
    """The send step by step: the same rules as the statement, each raising its own error. The
    embedded default (SQLite) always sends this way; on PostgreSQL it runs when the one statement
    declined, and for OG-only gifts."""
    facts = SendFacts(sender_id=sender_id, stream_id=stream_id, gift_id=gift_id)
    send_refusal_raise(facts)
    sender, gift, host_id = facts.sender, facts.gift, facts.stream.host_id

    coins = gift.coin_price * quantity
    rate = settings.GIFT_HOST_SHARE_PERCENT
    host_share, platform_share = gift_split(coins=coins, rate=rate)
    credits = [
        (owner, kind, amount)
        for owner, kind, amount in (
            (host_id, AccountKind.HOST_EARNINGS, host_share),
            (None, AccountKind.REVENUE, platform_share),
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
                host_id=host_id,
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
                pk_marker=pk_marker,
            )
    except DuplicateEntry:
        return gift_send_replay(sender_id=sender_id, stream_id=stream_id, gift_id=gift_id, quantity=quantity, ref=ref)
    return GiftSent(send=send, balance=spend.balance)


def _announce(*, send: GiftSend, gift: dict[str, Any], sender: dict[str, Any], pk_marker: PkMarker | None) -> None:
    """After commit: the room hears the send (its own `gift.sent`, or its streak's `gift.combo`),
    the metrics and the leaderboards move."""
    gift_event_publish(
        send=ComboSend(
            stream_id=send.stream_id,
            send_id=send.pk,
            sender=sender,
            gift=gift,
            quantity=send.quantity,
            coins=send.coins,
        )
    )
    figures = SendFigures(
        sender_id=send.sender_id,
        host_id=send.host_id,
        stream_id=send.stream_id,
        coins=send.coins,
        host_share=send.host_share,
        created_at=send.created_at,
    )
    transaction.on_commit(lambda: _after_send(figures, pk_marker=pk_marker))


def _gift_send_insert(**fields: Any) -> GiftSend:
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


def _after_send(figures: SendFigures, *, pk_marker: PkMarker | None) -> None:
    metrics.gift_sent(coins=figures.coins)
    leaderboard_record(sends=[figures])
    # a live PK score, when the stream is in a battle
    pk_gift_note(stream_id=figures.stream_id, marker=pk_marker)


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
    """Store each stream's gift totals (coins, and gifts: the sum of quantities) on the stream, for
    streams that got gifts in the last `window_minutes`, through the live app. Returns the streams
    changed.

    Done periodically instead of in each send: one popular stream's row would otherwise be updated
    by every gift and serialise them all (the same hot-row problem the ledger avoids).
    """
    since = timezone.now() - timedelta(minutes=window_minutes)
    return stream_gift_totals_set(totals=stream_gift_totals(gifted_since=since))
