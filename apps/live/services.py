"""Writes of the live app: going live and ending, viewers and tokens, the host's room actions.

LinkCast (apps.live.linkcast), PK battles (apps.live.pk) and room chat (apps.live.chat) live in
their own modules; their public functions are importable from here as well. Row locks follow
apps.live.locks: streams in pk order, then a PK battle.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.services import user_require_verified_age
from apps.core.exceptions import NotFound
from apps.core.timestamps import iso_utc
from apps.live import agora
from apps.live.chat import chat_checker_register as chat_checker_register
from apps.live.events import room_event_publish, room_sockets_close, user_sockets_close
from apps.live.exceptions import AlreadyLive, NotStreamHost, StreamNotLive
from apps.live.linkcast import linkcast_accept as linkcast_accept
from apps.live.linkcast import linkcast_audio_set as linkcast_audio_set
from apps.live.linkcast import linkcast_close
from apps.live.linkcast import linkcast_decline as linkcast_decline
from apps.live.linkcast import linkcast_invite as linkcast_invite
from apps.live.linkcast import linkcast_leave as linkcast_leave
from apps.live.linkcast import linkcast_token_issue as linkcast_token_issue
from apps.live.locks import stream_locked
from apps.live.models import LinkCast, Stream, StreamKick, StreamMute, StreamViewer
from apps.live.pk import pk_current as pk_current
from apps.live.pk import pk_end as pk_end
from apps.live.pk import pk_end_overdue as pk_end_overdue
from apps.live.pk import pk_gift_coins_reader_register as pk_gift_coins_reader_register
from apps.live.pk import pk_gift_note as pk_gift_note
from apps.live.pk import pk_public as pk_public
from apps.live.pk import pk_start as pk_start
from apps.live.pk import pk_totals as pk_totals
from apps.live.room_state import chat_refusals_set
from apps.live.selectors import active_cache_clear, linkcast_open_for_stream, stream_get, stream_watch_check

logger = logging.getLogger(__name__)


def _require_host(stream: Stream, by: User | None) -> None:
    """`by` None is the system or a moderator acting through their own service: no host check."""
    if by is not None and by.pk != stream.host_id:
        raise NotStreamHost()


# --- Going live and ending ----------------------------------------------------------------------


def stream_go_live(*, host: User, title: str, category: str = "", cover: Any = None) -> Stream:
    """Start a live stream. Refused to banned accounts, to minors and age-held accounts, to accounts
    without a verified age (AgeVerificationRequired), and to a host already live."""
    if host.is_banned:
        raise AccountBanned.of(host)
    user_require_verified_age(
        user=host,
        message=gettext_lazy(
            "Going live needs a verified age. Take the selfie age check under Age verification, then go live."
        ),
    )
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
    stream = stream_locked(stream_id)
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
        linkcast_close(linkcast, reason="stream_ended")
    StreamViewer.objects.filter(stream=stream, left_at__isnull=True).update(left_at=now)
    room_event_publish(
        stream_id=stream.pk,
        event_type="stream.ended",
        payload={
            "stream_id": stream.pk,
            "status": stream.status,
            "reason": stream.end_reason,
            "by_moderation": by_moderation,
            "ended_at": iso_utc(now),
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


def stream_sockets_close_on_block(*, blocker_id: int, blocked_id: int) -> None:
    """A block between a host and a viewer (either way) ends the viewer's presence in the host's live
    rooms: their chat there is refused at once and their sockets close (4003, reason `user_blocked`),
    as a connect would be refused. Registered with accounts' block_create (LiveConfig.ready())."""
    for host_id, viewer_id in ((blocker_id, blocked_id), (blocked_id, blocker_id)):
        stream_ids = list(
            Stream.objects.filter(host_id=host_id, status__in=Stream.ACTIVE_STATUSES).values_list("pk", flat=True)
        )
        if not stream_ids:
            continue
        transaction.on_commit(partial(chat_refusals_set, stream_ids=stream_ids, user_id=viewer_id))
        for stream_id in stream_ids:
            user_sockets_close(user_id=viewer_id, reason="user_blocked", stream_id=stream_id)


# --- Host actions (also open to moderation with by=None) ---------------------------------------


@transaction.atomic
def stream_viewer_kick(*, stream_id: int, user_id: int, by: User | None = None, reason: str = "") -> StreamKick:
    """Remove a viewer: their sockets in this room close and they cannot rejoin this stream."""
    stream = stream_locked(stream_id)
    _require_host(stream, by)
    if user_id == stream.host_id:
        raise NotStreamHost(gettext_lazy("The host cannot be kicked from their own stream."))
    if not User.objects.filter(pk=user_id).exists():
        raise NotFound(gettext_lazy("No such user."))
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
    stream = stream_locked(stream_id)
    _require_host(stream, by)
    if user_id == stream.host_id:
        raise NotStreamHost(gettext_lazy("The host cannot be muted in their own stream."))
    if not User.objects.filter(pk=user_id).exists():
        raise NotFound(gettext_lazy("No such user."))
    until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    mute, _ = StreamMute.objects.update_or_create(stream=stream, user_id=user_id, defaults={"muted_until": until})
    room_event_publish(
        stream_id=stream.pk,
        event_type="chat.muted",
        payload={"user_id": user_id, "until": iso_utc(until)},
    )
    return mute


@transaction.atomic
def stream_viewer_unmute(*, stream_id: int, user_id: int, by: User | None = None) -> None:
    stream = stream_locked(stream_id)
    _require_host(stream, by)
    StreamMute.objects.filter(stream=stream, user_id=user_id).delete()
    room_event_publish(stream_id=stream.pk, event_type="chat.unmuted", payload={"user_id": user_id})


@transaction.atomic
def stream_chat_settings_set(
    *, stream_id: int, by: User | None, mode: str, slow_mode_seconds: int | None = None
) -> Stream:
    stream = stream_locked(stream_id)
    _require_host(stream, by)
    if not stream.is_live:
        raise StreamNotLive()
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
    stream = stream_locked(stream_id)
    _require_host(stream, by)
    stream.pinned_message = message
    stream.save(update_fields=["pinned_message"])
    if message is None:
        room_event_publish(stream_id=stream.pk, event_type="chat.unpinned", payload={})
    else:
        room_event_publish(stream_id=stream.pk, event_type="chat.pinned", payload={"message": message})
    return stream


def stream_gift_totals_set(*, totals: Iterable[tuple[int, int, int]]) -> int:
    """Store the gift totals the gifts app counted: (stream id, gift coins, gifts) each. Returns the
    streams changed. Called periodically, never per gift: one popular stream's row would otherwise
    serialise every gift to it."""
    changed = 0
    for stream_id, coins, gifts in totals:
        changed += (
            Stream.objects.filter(pk=stream_id)
            .exclude(gift_coins_total=coins, gifts_count=gifts)
            .update(gift_coins_total=coins, gifts_count=gifts)
        )
    return changed


def stream_backdate(*, stream_id: int, started_at: datetime, ended_at: datetime) -> None:
    """Move an ended stream into the past. Only for synthetic history (demo data, evaluating the gift
    recommender): real streams get their times from going live and ending."""
    moved = Stream.objects.filter(pk=stream_id, status__in=Stream.ENDED_STATUSES).update(
        created_at=started_at, started_at=started_at, ended_at=ended_at, last_heartbeat_at=ended_at
    )
    if not moved:
        raise StreamNotLive(
            gettext_lazy("Only an ended stream can be moved into the past."), details={"stream": stream_id}
        )


def stream_stats_update(*, stream_id: int, viewers: int, likes_total: int | None = None) -> None:
    """Store the room's viewer count (and peak) and likes, as measured from presence in Redis."""
    fields: dict[str, Any] = {"current_viewers": viewers, "peak_viewers": Greatest(F("peak_viewers"), viewers)}
    if likes_total is not None:
        fields["likes_total"] = Greatest(F("likes_total"), likes_total)
    Stream.objects.filter(pk=stream_id, status=Stream.Status.LIVE).update(**fields)
