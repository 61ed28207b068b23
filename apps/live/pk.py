"""PK battles: a timed gift contest between the two hosts of an active LinkCast.

A side's coins are the gift coins its stream received during the battle. Gifts sit above live
(they read live streams), so live cannot read them: the gifts app registers its reader here
(`pk_gift_coins_reader_register`, from GiftsConfig.ready()).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.core.timestamps import iso_utc
from apps.live.events import rooms_event_publish
from apps.live.exceptions import LinkCastError, NotStreamHost, PkBattleRunning, PkDurationInvalid
from apps.live.locks import linkcast_streams_locked, pk_battle_locked
from apps.live.models import LinkCast, PkBattle

logger = logging.getLogger(__name__)


class GiftCoinsReader(Protocol):
    def __call__(self, *, stream_id: int, host_id: int, since: datetime, until: datetime) -> int:
        """Coins gifted to the host in the stream in [since, until)."""
        ...


_gift_coins_reader: GiftCoinsReader | None = None


def pk_gift_coins_reader_register(reader: GiftCoinsReader) -> None:
    """Say where PK totals come from (the gifts app, once at start-up)."""
    global _gift_coins_reader
    _gift_coins_reader = reader


def _gift_coins(*, stream_id: int, host_id: int, since: datetime, until: datetime) -> int:
    if _gift_coins_reader is None:
        raise ImproperlyConfigured("PK totals need a gift coins reader: apps.gifts registers it when installed.")
    return _gift_coins_reader(stream_id=stream_id, host_id=host_id, since=since, until=until)


def _marker_key(stream_id: int) -> str:
    return f"live:pk:stream:{stream_id}"


@dataclass(frozen=True)
class PkMarker:
    """What the cache said of a stream's battle, read by a caller in a round trip of its own."""

    battle_id: int | None  # None: the stream is not in a battle


def pk_marker_key(*, stream_id: int) -> str:
    """The cache key that tells whether a stream is in a battle (for a caller gathering it with other
    reads; `pk_marker_from_reads` interprets what it read)."""
    return _marker_key(stream_id)


def pk_marker_from_reads(*, stream_id: int, reads: Mapping[str, Any]) -> PkMarker | None:
    """The stream's marker among cache values read by key; None when its key was not read."""
    key = _marker_key(stream_id)
    if key not in reads:
        return None
    value = reads[key]
    return PkMarker(battle_id=None if value is None else int(value))


def pk_totals(battle: PkBattle, *, until: datetime | None = None) -> tuple[int, int]:
    """Coins gifted to each side's stream in [started_at, until or ends_at): the authoritative count,
    from the gift records."""
    linkcast = battle.linkcast
    end = min(until, battle.ends_at) if until is not None else battle.ends_at
    host, guest = (
        _gift_coins(stream_id=stream.pk, host_id=stream.host_id, since=battle.started_at, until=end)
        for stream in (linkcast.host_stream, linkcast.guest_stream)
    )
    return host, guest


def pk_public(battle: PkBattle, *, totals: tuple[int, int] | None = None) -> dict[str, Any]:
    """What rooms and the API show of a battle: `totals` are live figures for a running battle."""
    linkcast = battle.linkcast
    host_coins, guest_coins = totals if totals is not None else (battle.host_coins, battle.guest_coins)
    return {
        "id": battle.pk,
        "linkcast_id": battle.linkcast_id,
        "status": battle.status,
        "duration_seconds": battle.duration_seconds,
        "started_at": iso_utc(battle.started_at),
        "ends_at": iso_utc(battle.ends_at),
        "sides": [
            {
                "role": "host",
                "user_id": linkcast.host_stream.host_id,
                "stream_id": linkcast.host_stream_id,
                "coins": host_coins,
            },
            {
                "role": "guest",
                "user_id": linkcast.guest_stream.host_id,
                "stream_id": linkcast.guest_stream_id,
                "coins": guest_coins,
            },
        ],
        "winner_id": battle.winner_id,
    }


def _markers_set(battle: PkBattle) -> None:
    """After commit, mark both streams as battling so a gift can tell cheaply whether to score."""
    ttl = battle.duration_seconds + 120
    streams = (battle.linkcast.host_stream_id, battle.linkcast.guest_stream_id)
    transaction.on_commit(lambda: cache.set_many({_marker_key(s): battle.pk for s in streams}, timeout=ttl))


def _markers_clear(battle: PkBattle) -> None:
    streams = (battle.linkcast.host_stream_id, battle.linkcast.guest_stream_id)
    transaction.on_commit(lambda: cache.delete_many([_marker_key(s) for s in streams]))


@transaction.atomic
def pk_start(*, linkcast_id: int, host: User, duration_seconds: int | None = None) -> PkBattle:
    """Either host of an active LinkCast starts a timed battle; both rooms hear `pk.started`."""
    duration = settings.LIVE_PK_DEFAULT_SECONDS if duration_seconds is None else duration_seconds
    if duration not in settings.LIVE_PK_DURATION_CHOICES:
        raise PkDurationInvalid(details={"choices": list(settings.LIVE_PK_DURATION_CHOICES)})
    linkcast = linkcast_streams_locked(linkcast_id)
    if host.pk not in (linkcast.host_stream.host_id, linkcast.guest_stream.host_id):
        raise NotStreamHost(gettext_lazy("Only the two hosts of this LinkCast can start a PK battle."))
    if linkcast.status != LinkCast.Status.ACTIVE:
        raise LinkCastError(gettext_lazy("This LinkCast is not active."), details={"status": linkcast.status})
    running = PkBattle.objects.filter(linkcast=linkcast, status=PkBattle.Status.RUNNING).first()
    if running is not None:
        raise PkBattleRunning(details={"battle_id": running.pk, "ends_at": iso_utc(running.ends_at)})
    now = timezone.now()
    # The streams are locked, so no other start can slip in; the partial unique index backs it up.
    battle = PkBattle.objects.create(
        linkcast=linkcast,
        started_by=host,
        duration_seconds=duration,
        started_at=now,
        ends_at=now + timedelta(seconds=duration),
    )
    rooms_event_publish(
        stream_ids=linkcast.stream_ids, event_type="pk.started", payload=pk_public(battle, totals=(0, 0))
    )
    _markers_set(battle)
    from apps.live.tasks import pk_battle_end_task  # the tasks module imports this one

    # A second of slack so the task does not arrive before ends_at; the sweep covers a lost task.
    transaction.on_commit(lambda: pk_battle_end_task.apply_async(args=[battle.pk], countdown=duration + 1))
    logger.info("pk started", extra={"battle_id": battle.pk, "linkcast_id": linkcast.pk})
    return battle


def _finish(battle: PkBattle, *, status: str) -> None:
    """Caller holds the battle's row lock and has checked it is running."""
    now = timezone.now()
    battle.host_coins, battle.guest_coins = pk_totals(battle, until=now)
    battle.status = status
    battle.ended_at = now
    if status == PkBattle.Status.ENDED and battle.host_coins != battle.guest_coins:
        winner = battle.linkcast.host_stream if battle.host_coins > battle.guest_coins else battle.linkcast.guest_stream
        battle.winner_id = winner.host_id
    battle.save(update_fields=["host_coins", "guest_coins", "status", "ended_at", "winner"])
    rooms_event_publish(stream_ids=battle.linkcast.stream_ids, event_type="pk.ended", payload=pk_public(battle))
    _markers_clear(battle)
    logger.info("pk %s", status, extra={"battle_id": battle.pk, "winner_id": battle.winner_id})


@transaction.atomic
def pk_end(*, battle_id: int) -> PkBattle | None:
    """End a running battle whose time is up: totals from the gift records, a winner or a draw,
    `pk.ended` to both rooms. Safe to call any number of times (early, late, twice): only the first
    due call acts."""
    battle = pk_battle_locked(battle_id)
    if battle is None or battle.status != PkBattle.Status.RUNNING or battle.ends_at > timezone.now():
        return battle
    _finish(battle, status=PkBattle.Status.ENDED)
    return battle


def pk_end_overdue() -> int:
    """End every running battle past its end (the end task was lost or a worker was down)."""
    due = PkBattle.objects.filter(status=PkBattle.Status.RUNNING, ends_at__lte=timezone.now()).values_list(
        "pk", flat=True
    )
    ended = 0
    for battle_id in list(due):
        battle = pk_end(battle_id=battle_id)
        ended += battle is not None and battle.status == PkBattle.Status.ENDED
    return ended


def pk_cancel_running(linkcast: LinkCast) -> None:
    """The LinkCast is closing: cancel its running battle (no winner). Caller holds the stream locks."""
    running = PkBattle.objects.filter(linkcast=linkcast, status=PkBattle.Status.RUNNING).values_list("pk", flat=True)
    for battle_id in list(running):
        battle = pk_battle_locked(battle_id)
        if battle is not None and battle.status == PkBattle.Status.RUNNING:
            _finish(battle, status=PkBattle.Status.CANCELLED)


def pk_current(*, linkcast_id: int) -> dict[str, Any] | None:
    """The running battle of a LinkCast with live totals, else its last battle; None when it had none."""
    battle = (
        PkBattle.objects.select_related("linkcast__host_stream", "linkcast__guest_stream")
        .filter(linkcast_id=linkcast_id)
        .order_by("-started_at", "-pk")
        .first()
    )
    if battle is None:
        return None
    if battle.status == PkBattle.Status.RUNNING:
        return pk_public(battle, totals=pk_totals(battle, until=timezone.now()))
    return pk_public(battle)


def pk_gift_note(*, stream_id: int, marker: PkMarker | None = None) -> None:
    """After a gift committed: when its stream is in a running battle, send both rooms `pk.score`,
    at most once per LIVE_PK_SCORE_INTERVAL_MS per battle. A gift in a skipped window shows in the
    next score and always in the final result (both are sums of the gift records). Never raises.

    `marker`: the stream's battle marker as the caller read it before the send (no cache read
    here); without it the marker is read now."""
    try:
        battle_id = marker.battle_id if marker is not None else cache.get(_marker_key(stream_id))
        if battle_id is None or not _score_gate(battle_id):
            return
        battle = (
            PkBattle.objects.select_related("linkcast__host_stream", "linkcast__guest_stream")
            .filter(pk=battle_id, status=PkBattle.Status.RUNNING)
            .first()
        )
        if battle is None:
            return
        totals = pk_totals(battle, until=timezone.now())
        rooms_event_publish(
            stream_ids=battle.linkcast.stream_ids, event_type="pk.score", payload=pk_public(battle, totals=totals)
        )
    except Exception:
        logger.exception("pk score not sent", extra={"stream_id": stream_id})


def _score_gate(battle_id: int) -> bool:
    """True for the first caller in each LIVE_PK_SCORE_INTERVAL_MS of a battle (SET NX PX on Redis)."""
    key = f"live:pk:gate:{battle_id}"
    interval_ms = settings.LIVE_PK_SCORE_INTERVAL_MS
    if interval_ms <= 0:
        return True
    if hasattr(cache, "add_for_ms"):  # Redis
        return bool(cache.add_for_ms(key, interval_ms))
    return bool(cache.add(key, 1, timeout=max(1, interval_ms // 1000)))
