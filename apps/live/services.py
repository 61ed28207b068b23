import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.selectors import is_blocked_between
from apps.accounts.services import user_require_adult
from apps.core.exceptions import NotFound
from apps.gifts.models import GiftSend
from apps.live import agora
from apps.live.events import room_event_publish, room_sockets_close, user_event_publish, user_sockets_close
from apps.live.exceptions import (
    AlreadyLive,
    LinkCastError,
    NotStreamHost,
    OgUnavailable,
    PkBattleRunning,
    PkDurationInvalid,
    StreamBlocked,
    StreamNotLive,
)
from apps.live.models import LinkCast, PkBattle, Stream, StreamKick, StreamMute, StreamViewer
from apps.live.selectors import (
    active_cache_clear,
    linkcast_get,
    linkcast_open_for_stream,
    linkcast_public,
    og_available,
    stream_get,
    stream_watch_check,
    user_brief,
)

logger = logging.getLogger(__name__)


def _locked_stream(stream_id: int) -> Stream:
    try:
        return Stream.objects.select_for_update().get(pk=stream_id)
    except Stream.DoesNotExist:
        raise NotFound("No such stream.") from None


def _require_host(stream: Stream, by: User | None) -> None:
    """`by` None is the system or a moderator acting through their own service: no host check."""
    if by is not None and by.pk != stream.host_id:
        raise NotStreamHost()


# --- Going live and ending ----------------------------------------------------------------------


def stream_go_live(*, host: User, title: str, category: str = "", cover: Any = None) -> Stream:
    """Start a live stream. Refused to minors, age-held and banned accounts, and to a host already live."""
    if host.is_banned:
        raise AccountBanned(details={"banned_until": host.banned_until.isoformat(), "reason": host.ban_reason})
    user_require_adult(user=host)
    now = timezone.now()
    stream = Stream(
        host=host,
        title=title,
        category=category.strip().lower(),
        status=Stream.Status.LIVE,
        started_at=now,
        last_heartbeat_at=now,
    )
    if cover:
        stream.cover = cover
    try:
        with transaction.atomic():
            stream.save()
    except IntegrityError:
        # The partial unique index on (host) for preparing/live streams decides, even under a race.
        current = Stream.objects.filter(host=host, status__in=Stream.ACTIVE_STATUSES).values_list("pk", flat=True)
        raise AlreadyLive(details={"stream_id": next(iter(current), None)}) from None
    transaction.on_commit(active_cache_clear)
    logger.info("stream live", extra={"stream_id": stream.pk, "host_id": host.pk})
    return stream


@transaction.atomic
def stream_end(*, stream_id: int, reason: str = "", by_moderation: bool = False) -> Stream:
    """End a live or preparing stream, tell its room and close every socket. Idempotent once ended."""
    stream = _locked_stream(stream_id)
    if stream.status in Stream.ENDED_STATUSES:
        return stream
    now = timezone.now()
    stream.status = Stream.Status.ENDED_BY_MODERATION if by_moderation else Stream.Status.ENDED
    stream.ended_at = now
    stream.end_reason = reason[:300]
    stream.current_viewers = 0
    stream.save(update_fields=["status", "ended_at", "end_reason", "current_viewers"])
    for linkcast in LinkCast.objects.filter(
        Q(host_stream_id=stream.pk) | Q(guest_stream_id=stream.pk), status__in=LinkCast.OPEN_STATUSES
    ).select_related("host_stream__host", "guest_stream__host"):
        _linkcast_close(linkcast, reason="stream_ended")
    StreamViewer.objects.filter(stream=stream, left_at__isnull=True).update(left_at=now)
    room_event_publish(
        stream_id=stream.pk,
        event_type="stream.ended",
        payload={
            "stream_id": stream.pk,
            "status": stream.status,
            "reason": stream.end_reason,
            "by_moderation": by_moderation,
            "ended_at": now.isoformat(),
        },
    )
    room_sockets_close(stream_id=stream.pk, reason="stream_ended")
    transaction.on_commit(active_cache_clear)
    logger.info("stream ended", extra={"stream_id": stream.pk, "by_moderation": by_moderation})
    return stream


def stream_end_by_host(*, stream_id: int, user: User) -> Stream:
    stream = stream_get(stream_id=stream_id)
    _require_host(stream, user)
    return stream_end(stream_id=stream_id, reason="host_ended")


def stream_heartbeat(*, stream_id: int, user: User) -> Stream:
    """The host's app says it is still broadcasting."""
    stream = stream_get(stream_id=stream_id)
    _require_host(stream, user)
    updated = Stream.objects.filter(pk=stream.pk, status__in=Stream.ACTIVE_STATUSES).update(
        last_heartbeat_at=timezone.now()
    )
    if not updated:
        raise StreamNotLive()
    stream.refresh_from_db(fields=["last_heartbeat_at", "status"])
    return stream


def streams_end_silent() -> int:
    """End every stream whose host sent no heartbeat for LIVE_HEARTBEAT_TIMEOUT_SECONDS (safe to rerun)."""
    cutoff = timezone.now() - timedelta(seconds=settings.LIVE_HEARTBEAT_TIMEOUT_SECONDS)
    silent = (
        Stream.objects.filter(status__in=Stream.ACTIVE_STATUSES)
        .annotate(seen=Coalesce("last_heartbeat_at", "started_at", "created_at"))
        .filter(seen__lt=cutoff)
        .values_list("pk", flat=True)
    )
    ended = 0
    for stream_id in list(silent):
        stream = stream_end(stream_id=stream_id, reason="host_silent")
        ended += stream.end_reason == "host_silent"
    return ended


# --- Viewers and tokens ------------------------------------------------------------------------


def stream_tokens_issue(*, stream: Stream, user: User) -> dict[str, Any]:
    """Agora tokens for this user in this stream: publisher for the host, subscriber for viewers.

    While the stream is in an active LinkCast, `linkcast_rtc` is a token for the shared channel
    (publisher for both hosts, subscriber for viewers). Raises AgoraNotConfigured without credentials.
    """
    stream_watch_check(stream=stream, user=user)
    is_host = stream.host_id == user.pk
    role = agora.RtcRole.PUBLISHER if is_host else agora.RtcRole.SUBSCRIBER
    tokens: dict[str, Any] = {
        "rtc": agora.rtc_token_build(channel=stream.channel_name, uid=user.pk, role=role).as_dict(),
        "rtm": agora.rtm_token_build(uid=user.pk).as_dict(),
        "linkcast_rtc": None,
    }
    linkcast = linkcast_open_for_stream(stream_id=stream.pk)
    if linkcast is not None:
        tokens["linkcast_rtc"] = agora.rtc_token_build(channel=linkcast.channel_name, uid=user.pk, role=role).as_dict()
    return tokens


def stream_tokens_or_none(*, stream: Stream, user: User) -> dict[str, Any] | None:
    """Tokens, or None when Agora is not configured (going live and joining still work)."""
    if not agora.agora_configured():
        stream_watch_check(stream=stream, user=user)
        return None
    return stream_tokens_issue(stream=stream, user=user)


def stream_viewer_join(*, stream_id: int, user: User) -> Stream:
    """Join as a viewer (refused when not live, banned, blocked or kicked)."""
    stream = stream_get(stream_id=stream_id)
    stream_watch_check(stream=stream, user=user)
    if stream.host_id != user.pk:
        StreamViewer.objects.update_or_create(
            stream=stream, user=user, defaults={"joined_at": timezone.now(), "left_at": None}
        )
    return stream


def stream_viewer_leave(*, stream_id: int, user: User) -> None:
    stream = stream_get(stream_id=stream_id)
    StreamViewer.objects.filter(stream=stream, user=user, left_at__isnull=True).update(left_at=timezone.now())


# --- Host actions (also open to moderation with by=None) ---------------------------------------


@transaction.atomic
def stream_viewer_kick(*, stream_id: int, user_id: int, by: User | None = None, reason: str = "") -> StreamKick:
    """Remove a viewer: their sockets in this room close and they cannot rejoin this stream."""
    stream = _locked_stream(stream_id)
    _require_host(stream, by)
    if user_id == stream.host_id:
        raise NotStreamHost("The host cannot be kicked from their own stream.")
    if not User.objects.filter(pk=user_id).exists():
        raise NotFound("No such user.")
    kick, _ = StreamKick.objects.get_or_create(
        stream=stream, user_id=user_id, defaults={"kicked_by": by, "reason": reason[:300]}
    )
    StreamViewer.objects.filter(stream=stream, user_id=user_id, left_at__isnull=True).update(left_at=timezone.now())
    room_event_publish(stream_id=stream.pk, event_type="viewer.kicked", payload={"user_id": user_id})
    user_sockets_close(user_id=user_id, reason="kicked", stream_id=stream.pk)
    return kick


@transaction.atomic
def stream_viewer_mute(
    *, stream_id: int, user_id: int, by: User | None = None, minutes: int | None = None
) -> StreamMute:
    """Mute a viewer in this room's chat for some minutes (None: until the stream ends)."""
    stream = _locked_stream(stream_id)
    _require_host(stream, by)
    if user_id == stream.host_id:
        raise NotStreamHost("The host cannot be muted in their own stream.")
    if not User.objects.filter(pk=user_id).exists():
        raise NotFound("No such user.")
    until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    mute, _ = StreamMute.objects.update_or_create(stream=stream, user_id=user_id, defaults={"muted_until": until})
    room_event_publish(
        stream_id=stream.pk,
        event_type="chat.muted",
        payload={"user_id": user_id, "until": until.isoformat() if until else None},
    )
    return mute


@transaction.atomic
def stream_viewer_unmute(*, stream_id: int, user_id: int, by: User | None = None) -> None:
    stream = _locked_stream(stream_id)
    _require_host(stream, by)
    StreamMute.objects.filter(stream=stream, user_id=user_id).delete()
    room_event_publish(stream_id=stream.pk, event_type="chat.unmuted", payload={"user_id": user_id})


@transaction.atomic
def stream_chat_settings_set(
    *, stream_id: int, by: User | None, mode: str, slow_mode_seconds: int | None = None
) -> Stream:
    stream = _locked_stream(stream_id)
    _require_host(stream, by)
    if not stream.is_live:
        raise StreamNotLive()
    if mode == Stream.ChatMode.OG and not og_available():
        raise OgUnavailable()
    stream.chat_mode = mode
    if slow_mode_seconds is not None:
        stream.slow_mode_seconds = slow_mode_seconds
    stream.save(update_fields=["chat_mode", "slow_mode_seconds"])
    room_event_publish(
        stream_id=stream.pk,
        event_type="chat.mode",
        payload={"mode": stream.chat_mode, "slow_mode_seconds": stream.slow_mode_seconds},
    )
    return stream


@transaction.atomic
def stream_message_pin(*, stream_id: int, by: User | None, message: dict[str, Any] | None) -> Stream:
    """Pin a chat message (a `chat.message` payload) for everyone, or unpin with None."""
    stream = _locked_stream(stream_id)
    _require_host(stream, by)
    stream.pinned_message = message
    stream.save(update_fields=["pinned_message"])
    if message is None:
        room_event_publish(stream_id=stream.pk, event_type="chat.unpinned", payload={})
    else:
        room_event_publish(stream_id=stream.pk, event_type="chat.pinned", payload={"message": message})
    return stream


def stream_gift_record(*, stream_id: int, coins: int, count: int = 1) -> None:
    """Add a gift to the stream's totals (the gift service calls this inside its transaction)."""
    Stream.objects.filter(pk=stream_id).update(
        gift_coins_total=F("gift_coins_total") + coins, gifts_count=F("gifts_count") + count
    )


def stream_stats_update(*, stream_id: int, viewers: int, likes_total: int | None = None) -> None:
    """Store the room's viewer count (and peak) and likes, as measured from presence in Redis."""
    fields: dict[str, Any] = {"current_viewers": viewers, "peak_viewers": Greatest(F("peak_viewers"), viewers)}
    if likes_total is not None:
        fields["likes_total"] = Greatest(F("likes_total"), likes_total)
    Stream.objects.filter(pk=stream_id, status=Stream.Status.LIVE).update(**fields)


# --- LinkCast ----------------------------------------------------------------------------------


def _linkcast_rooms_publish(linkcast: LinkCast, event_type: str, payload: dict[str, Any]) -> None:
    for stream_id in (linkcast.host_stream_id, linkcast.guest_stream_id):
        room_event_publish(stream_id=stream_id, event_type=event_type, payload=payload)


def _linkcast_close(linkcast: LinkCast, *, reason: str) -> None:
    """Caller holds the lock on the LinkCast's streams (or the row)."""
    was_active = linkcast.status == LinkCast.Status.ACTIVE
    if was_active:
        linkcast.status = LinkCast.Status.ENDED
    elif reason == "declined":
        linkcast.status = LinkCast.Status.DECLINED
    elif reason == "expired":
        linkcast.status = LinkCast.Status.EXPIRED
    else:
        linkcast.status = LinkCast.Status.CANCELLED
    linkcast.ended_at = timezone.now()
    linkcast.end_reason = reason
    linkcast.save(update_fields=["status", "ended_at", "end_reason"])
    if was_active:
        _pk_cancel_running(linkcast)
    payload = {"linkcast_id": linkcast.pk, "status": linkcast.status, "reason": reason}
    if was_active:
        _linkcast_rooms_publish(linkcast, "linkcast.ended", payload)
    else:
        for user_id in (linkcast.host_stream.host_id, linkcast.guest_stream.host_id):
            user_event_publish(user_id=user_id, event_type=f"linkcast.{linkcast.status}", payload=payload)


def _lock_linkcast_streams(linkcast_id: int) -> LinkCast:
    linkcast = LinkCast.objects.filter(pk=linkcast_id).values_list("host_stream_id", "guest_stream_id").first()
    if linkcast is None:
        raise NotFound("No such LinkCast.")
    # Both streams locked in pk order: invitations between the same two hosts cannot deadlock.
    list(Stream.objects.select_for_update().filter(pk__in=linkcast).order_by("pk"))
    return LinkCast.objects.select_related("host_stream__host", "guest_stream__host").get(pk=linkcast_id)


@transaction.atomic
def linkcast_invite(*, user: User, guest_stream_id: int) -> LinkCast:
    """The host of a live stream invites the host of another live stream to broadcast together."""
    mine = Stream.objects.filter(host=user, status=Stream.Status.LIVE).values_list("pk", flat=True).first()
    if mine is None:
        raise StreamNotLive("Go live before inviting someone to a LinkCast.")
    if mine == guest_stream_id:
        raise LinkCastError("You cannot invite yourself.")
    streams = {
        s.pk: s for s in Stream.objects.select_for_update().filter(pk__in=[mine, guest_stream_id]).order_by("pk")
    }
    guest = streams.get(guest_stream_id)
    if guest is None:
        raise NotFound("No such stream.")
    if not guest.is_live:
        raise StreamNotLive("That stream is not live.")
    if is_blocked_between(user_id=user.pk, other_id=guest.host_id):
        raise StreamBlocked()
    busy = LinkCast.objects.filter(
        Q(host_stream_id__in=streams) | Q(guest_stream_id__in=streams), status__in=LinkCast.OPEN_STATUSES
    )
    for stale in busy:
        if stale.status == LinkCast.Status.INVITED and _invite_expired(stale):
            _linkcast_close(stale, reason="expired")
        else:
            raise LinkCastError("One of the two streams is already in a LinkCast or has an open invitation.")
    linkcast = LinkCast.objects.create(host_stream_id=mine, guest_stream=guest)
    linkcast = LinkCast.objects.select_related("host_stream__host", "guest_stream__host").get(pk=linkcast.pk)
    user_event_publish(
        user_id=guest.host_id,
        event_type="linkcast.invited",
        payload={
            "linkcast_id": linkcast.pk,
            "from": user_brief(user),
            "stream_id": mine,
            "expires_in": settings.LIVE_LINKCAST_INVITE_SECONDS,
        },
    )
    return linkcast


def _invite_expired(linkcast: LinkCast) -> bool:
    return linkcast.created_at < timezone.now() - timedelta(seconds=settings.LIVE_LINKCAST_INVITE_SECONDS)


@transaction.atomic
def linkcast_accept(*, linkcast_id: int, user: User) -> LinkCast:
    linkcast = _lock_linkcast_streams(linkcast_id)
    if linkcast.guest_stream.host_id != user.pk:
        raise NotStreamHost("Only the invited host can accept.")
    if linkcast.status != LinkCast.Status.INVITED:
        raise LinkCastError("This invitation is no longer open.", details={"status": linkcast.status})
    if _invite_expired(linkcast):
        _linkcast_close(linkcast, reason="expired")
        raise LinkCastError("This invitation expired.", details={"status": LinkCast.Status.EXPIRED})
    if not (linkcast.host_stream.is_live and linkcast.guest_stream.is_live):
        raise StreamNotLive("Both streams must be live.")
    linkcast.status = LinkCast.Status.ACTIVE
    linkcast.started_at = timezone.now()
    linkcast.save(update_fields=["status", "started_at"])
    _linkcast_rooms_publish(linkcast, "linkcast.started", linkcast_public(linkcast))
    return linkcast


@transaction.atomic
def linkcast_decline(*, linkcast_id: int, user: User) -> LinkCast:
    linkcast = _lock_linkcast_streams(linkcast_id)
    if linkcast.guest_stream.host_id != user.pk:
        raise NotStreamHost("Only the invited host can decline.")
    if linkcast.status != LinkCast.Status.INVITED:
        raise LinkCastError("This invitation is no longer open.", details={"status": linkcast.status})
    _linkcast_close(linkcast, reason="declined")
    return linkcast


@transaction.atomic
def linkcast_leave(*, linkcast_id: int, user: User) -> LinkCast:
    """Either host leaves (or the inviter withdraws the invitation): both return to solo."""
    linkcast = _lock_linkcast_streams(linkcast_id)
    if user.pk not in (linkcast.host_stream.host_id, linkcast.guest_stream.host_id):
        raise NotStreamHost("Only the two hosts can end a LinkCast.")
    if linkcast.status not in LinkCast.OPEN_STATUSES:
        return linkcast
    _linkcast_close(linkcast, reason="left")
    return linkcast


@transaction.atomic
def linkcast_audio_set(*, linkcast_id: int, user: User, target_user_id: int, muted: bool) -> LinkCast:
    """A host mutes or unmutes their own audio; the main host may also mute or unmute the guest."""
    linkcast = _lock_linkcast_streams(linkcast_id)
    host_id, guest_id = linkcast.host_stream.host_id, linkcast.guest_stream.host_id
    if linkcast.status != LinkCast.Status.ACTIVE:
        raise LinkCastError("This LinkCast is not active.", details={"status": linkcast.status})
    if target_user_id not in (host_id, guest_id):
        raise LinkCastError("That user is not in this LinkCast.")
    if user.pk not in (host_id, guest_id) or (user.pk == guest_id and target_user_id != guest_id):
        raise NotStreamHost("You can only change your own audio.")
    if target_user_id == host_id:
        linkcast.host_audio_muted = muted
    else:
        linkcast.guest_audio_muted = muted
    linkcast.save(update_fields=["host_audio_muted", "guest_audio_muted"])
    _linkcast_rooms_publish(
        linkcast,
        "linkcast.audio",
        {"linkcast_id": linkcast.pk, "user_id": target_user_id, "muted": muted, "by": user.pk},
    )
    return linkcast


def linkcast_token_issue(*, linkcast_id: int, user: User) -> dict[str, Any]:
    """A publisher token for the shared channel, for either host of an active LinkCast."""
    linkcast = linkcast_get(linkcast_id=linkcast_id)
    if user.pk not in (linkcast.host_stream.host_id, linkcast.guest_stream.host_id):
        raise NotStreamHost("Only the two hosts get publisher tokens for a LinkCast.")
    if linkcast.status != LinkCast.Status.ACTIVE:
        raise LinkCastError("This LinkCast is not active.", details={"status": linkcast.status})
    return agora.rtc_token_build(channel=linkcast.channel_name, uid=user.pk, role=agora.RtcRole.PUBLISHER).as_dict()


# --- PK battles --------------------------------------------------------------------------------


def _pk_marker_key(stream_id: int) -> str:
    return f"live:pk:stream:{stream_id}"


def pk_totals(battle: PkBattle, *, until: Any = None) -> tuple[int, int]:
    """Coins gifted to each side's stream in [started_at, until or ends_at): two sums on the
    (host, created_at) index. The authoritative count, from GiftSend."""
    linkcast = battle.linkcast
    end = min(until, battle.ends_at) if until is not None else battle.ends_at
    sides = []
    for stream in (linkcast.host_stream, linkcast.guest_stream):
        coins = GiftSend.objects.filter(
            host_id=stream.host_id, stream_id=stream.pk, created_at__gte=battle.started_at, created_at__lt=end
        ).aggregate(coins=Sum("coins"))["coins"]
        sides.append(coins or 0)
    return sides[0], sides[1]


def pk_public(battle: PkBattle, *, totals: tuple[int, int] | None = None) -> dict[str, Any]:
    """What rooms and the API show of a battle: `totals` are live figures for a running battle."""
    linkcast = battle.linkcast
    host_coins, guest_coins = totals if totals is not None else (battle.host_coins, battle.guest_coins)
    return {
        "id": battle.pk,
        "linkcast_id": battle.linkcast_id,
        "status": battle.status,
        "duration_seconds": battle.duration_seconds,
        "started_at": battle.started_at.isoformat(),
        "ends_at": battle.ends_at.isoformat(),
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


def _pk_markers_set(battle: PkBattle) -> None:
    """After commit, mark both streams as battling so a gift can tell cheaply whether to score."""
    ttl = battle.duration_seconds + 120
    streams = (battle.linkcast.host_stream_id, battle.linkcast.guest_stream_id)
    transaction.on_commit(lambda: cache.set_many({_pk_marker_key(s): battle.pk for s in streams}, timeout=ttl))


def _pk_markers_clear(battle: PkBattle) -> None:
    streams = (battle.linkcast.host_stream_id, battle.linkcast.guest_stream_id)
    transaction.on_commit(lambda: cache.delete_many([_pk_marker_key(s) for s in streams]))


@transaction.atomic
def pk_start(*, linkcast_id: int, host: User, duration_seconds: int | None = None) -> PkBattle:
    """Either host of an active LinkCast starts a timed battle; both rooms hear `pk.started`."""
    duration = settings.LIVE_PK_DEFAULT_SECONDS if duration_seconds is None else duration_seconds
    if duration not in settings.LIVE_PK_DURATION_CHOICES:
        raise PkDurationInvalid(details={"choices": list(settings.LIVE_PK_DURATION_CHOICES)})
    linkcast = _lock_linkcast_streams(linkcast_id)
    if host.pk not in (linkcast.host_stream.host_id, linkcast.guest_stream.host_id):
        raise NotStreamHost("Only the two hosts of this LinkCast can start a PK battle.")
    if linkcast.status != LinkCast.Status.ACTIVE:
        raise LinkCastError("This LinkCast is not active.", details={"status": linkcast.status})
    running = PkBattle.objects.filter(linkcast=linkcast, status=PkBattle.Status.RUNNING).first()
    if running is not None:
        raise PkBattleRunning(details={"battle_id": running.pk, "ends_at": running.ends_at.isoformat()})
    now = timezone.now()
    # The streams are locked, so no other start can slip in; the partial unique index backs it up.
    battle = PkBattle.objects.create(
        linkcast=linkcast,
        started_by=host,
        duration_seconds=duration,
        started_at=now,
        ends_at=now + timedelta(seconds=duration),
    )
    _linkcast_rooms_publish(linkcast, "pk.started", pk_public(battle, totals=(0, 0)))
    _pk_markers_set(battle)
    from apps.live.tasks import pk_battle_end_task

    # A second of slack so the task does not arrive before ends_at; the sweep covers a lost task.
    transaction.on_commit(lambda: pk_battle_end_task.apply_async(args=[battle.pk], countdown=duration + 1))
    logger.info("pk started", extra={"battle_id": battle.pk, "linkcast_id": linkcast.pk})
    return battle


def _pk_finish(battle: PkBattle, *, status: str) -> None:
    """Caller holds the battle's row lock and has checked it is running."""
    now = timezone.now()
    battle.host_coins, battle.guest_coins = pk_totals(battle, until=now)
    battle.status = status
    battle.ended_at = now
    if status == PkBattle.Status.ENDED and battle.host_coins != battle.guest_coins:
        winner = battle.linkcast.host_stream if battle.host_coins > battle.guest_coins else battle.linkcast.guest_stream
        battle.winner_id = winner.host_id
    battle.save(update_fields=["host_coins", "guest_coins", "status", "ended_at", "winner"])
    _linkcast_rooms_publish(battle.linkcast, "pk.ended", pk_public(battle))
    _pk_markers_clear(battle)
    logger.info("pk %s", status, extra={"battle_id": battle.pk, "winner_id": battle.winner_id})


def _pk_locked(battle_id: int) -> PkBattle | None:
    return (
        PkBattle.objects.select_for_update(of=("self",))
        .select_related("linkcast__host_stream", "linkcast__guest_stream")
        .filter(pk=battle_id)
        .first()
    )


@transaction.atomic
def pk_end(*, battle_id: int) -> PkBattle | None:
    """End a running battle whose time is up: totals from GiftSend, a winner or a draw, `pk.ended`
    to both rooms. Safe to call any number of times (early, late, twice): only the first due call acts."""
    battle = _pk_locked(battle_id)
    if battle is None or battle.status != PkBattle.Status.RUNNING or battle.ends_at > timezone.now():
        return battle
    _pk_finish(battle, status=PkBattle.Status.ENDED)
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


def _pk_cancel_running(linkcast: LinkCast) -> None:
    """The LinkCast is closing: cancel its running battle (no winner). Caller holds the stream locks."""
    running = PkBattle.objects.filter(linkcast=linkcast, status=PkBattle.Status.RUNNING).values_list("pk", flat=True)
    for battle_id in list(running):
        battle = _pk_locked(battle_id)
        if battle is not None and battle.status == PkBattle.Status.RUNNING:
            _pk_finish(battle, status=PkBattle.Status.CANCELLED)


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


def pk_gift_note(*, stream_id: int) -> None:
    """After a gift committed: when its stream is in a running battle, send both rooms `pk.score`,
    at most once per LIVE_PK_SCORE_INTERVAL_MS per battle. A gift in a skipped window shows in the
    next score and always in the final result (both are sums over GiftSend). Never raises."""
    try:
        battle_id = cache.get(_pk_marker_key(stream_id))
        if battle_id is None or not _pk_score_gate(battle_id):
            return
        battle = (
            PkBattle.objects.select_related("linkcast__host_stream", "linkcast__guest_stream")
            .filter(pk=battle_id, status=PkBattle.Status.RUNNING)
            .first()
        )
        if battle is None:
            return
        totals = pk_totals(battle, until=timezone.now())
        _linkcast_rooms_publish(battle.linkcast, "pk.score", pk_public(battle, totals=totals))
    except Exception:
        logger.exception("pk score not sent", extra={"stream_id": stream_id})


def _pk_score_gate(battle_id: int) -> bool:
    """True for the first caller in each LIVE_PK_SCORE_INTERVAL_MS of a battle (SET NX PX on Redis)."""
    key = f"live:pk:gate:{battle_id}"
    interval_ms = settings.LIVE_PK_SCORE_INTERVAL_MS
    if interval_ms <= 0:
        return True
    if hasattr(cache, "add_for_ms"):  # Redis
        return cache.add_for_ms(key, interval_ms)
    return cache.add(key, 1, timeout=max(1, interval_ms // 1000))
