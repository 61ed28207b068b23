"""Writes of the live app: going live and ending, viewers and tokens, the host's room actions.

LinkCast (apps.live.linkcast), PK battles (apps.live.pk) and room chat (apps.live.chat) live in
their own modules; their public functions are importable from here as well. Row locks follow
apps.live.locks: streams in pk order, then a PK battle.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.selectors import is_blocked_between
from apps.accounts.services import user_capped_add, user_require_verified_age, user_require_verified_phone
from apps.core.content_filter import text_mask
from apps.core.exceptions import NotFound
from apps.core.timestamps import iso_utc
from apps.live import agora
from apps.live.categories import category_catalogue_ensure as category_catalogue_ensure
from apps.live.categories import category_resolve
from apps.live.chat import chat_checker_register as chat_checker_register
from apps.live.chat import chat_hold_decider_register as chat_hold_decider_register
from apps.live.chat import chat_message_publish as chat_message_publish
from apps.live.events import room_event_publish, room_sockets_close, user_sockets_close
from apps.live.exceptions import (
    AlreadyLive,
    NotRoomModerator,
    NotStreamHost,
    RoomModeratorInvalid,
    RoomModeratorLimit,
    StreamBlocked,
    StreamNotLive,
)
from apps.live.linkcast import linkcast_accept as linkcast_accept
from apps.live.linkcast import linkcast_audio_set as linkcast_audio_set
from apps.live.linkcast import linkcast_close
from apps.live.linkcast import linkcast_decline as linkcast_decline
from apps.live.linkcast import linkcast_invite as linkcast_invite
from apps.live.linkcast import linkcast_leave as linkcast_leave
from apps.live.linkcast import linkcast_token_issue as linkcast_token_issue
from apps.live.locks import stream_locked
from apps.live.models import LinkCast, RoomModerator, Stream, StreamKick, StreamMute, StreamViewer
from apps.live.pk import pk_current as pk_current
from apps.live.pk import pk_end as pk_end
from apps.live.pk import pk_end_overdue as pk_end_overdue
from apps.live.pk import pk_gift_coins_reader_register as pk_gift_coins_reader_register
from apps.live.pk import pk_gift_note as pk_gift_note
from apps.live.pk import pk_public as pk_public
from apps.live.pk import pk_start as pk_start
from apps.live.pk import pk_totals as pk_totals
from apps.live.room_join import stream_facts_forget
from apps.live.room_state import chat_refusals_set
from apps.live.schedules import schedule_cancel as schedule_cancel
from apps.live.schedules import schedule_create as schedule_create
from apps.live.schedules import schedule_link
from apps.live.schedules import schedule_reminders_claim as schedule_reminders_claim
from apps.live.schedules import schedule_subscribe as schedule_subscribe
from apps.live.schedules import schedule_unsubscribe as schedule_unsubscribe
from apps.live.schedules import schedule_update as schedule_update
from apps.live.selectors import (
    ROOM_MODERATORS_CACHE_KEY,
    active_cache_clear,
    linkcast_open_for_stream,
    stream_get,
    stream_watch_check,
    user_brief,
)
from apps.live.signals import stream_went_live
from apps.live.trending import stream_gift_velocity_reader_register as stream_gift_velocity_reader_register
from apps.live.trending import trending_refresh as trending_refresh

logger = logging.getLogger(__name__)


def _require_host(stream: Stream, by: User | None) -> None:
    """`by` None is the system or a moderator acting through their own service: no host check."""
    if by is not None and by.pk != stream.host_id:
        raise NotStreamHost()


# --- Room moderators: who may act in a host's rooms, and the audit of what they did ------------

# recorder(action=, actor_id=, stream_id=, target_user_id=, reason=, details=): writes one line of
# the moderation audit log inside the caller's transaction (the moderation app registers one).
RoomActionRecorder = Callable[..., None]
_recorders: list[RoomActionRecorder] = []


def room_action_recorder_register(recorder: RoomActionRecorder) -> None:
    """Add a recorder of room moderators' actions and of appointments (once per recorder)."""
    if recorder not in _recorders:
        _recorders.append(recorder)


def _room_action_record(
    *,
    action: str,
    actor_id: int,
    stream_id: int | None,
    target_user_id: int | None,
    reason: str,
    details: dict[str, Any],
) -> None:
    for recorder in _recorders:
        recorder(
            action=action,
            actor_id=actor_id,
            stream_id=stream_id,
            target_user_id=target_user_id,
            reason=reason,
            details=details,
        )


def _is_room_moderator(*, host_id: int, user_id: int) -> bool:
    return RoomModerator.objects.filter(host_id=host_id, moderator_id=user_id).exists()


def _require_room_moderator(stream: Stream, by: User | None, *, target_user_id: int | None = None) -> bool:
    """The host, one of the host's room moderators, or None (the system, or moderation staff through
    their own services) may act. True when `by` acts as a room moderator: their action is audited,
    and they may not act on another of the host's moderators (only the host may)."""
    if by is None or by.pk == stream.host_id:
        return False
    if not _is_room_moderator(host_id=stream.host_id, user_id=by.pk):
        raise NotRoomModerator()
    if target_user_id is not None and _is_room_moderator(host_id=stream.host_id, user_id=target_user_id):
        raise NotRoomModerator(
            gettext_lazy("Only the host can act on a room moderator."), details={"reason": "target_is_moderator"}
        )
    return True


def _room_moderators_changed(*, host_id: int, event_type: str, payload: dict[str, Any]) -> None:
    """After commit: forget the cached moderator ids and tell the host's live rooms."""
    transaction.on_commit(partial(cache.delete, ROOM_MODERATORS_CACHE_KEY.format(host_id=host_id)))
    active = list(
        Stream.objects.filter(host_id=host_id, status__in=Stream.ACTIVE_STATUSES).values_list("pk", flat=True)
    )
    # After the ids' cache is gone (on_commit runs in order): a join then reads the new role.
    stream_facts_forget(stream_ids=active)
    for stream_id in active:
        room_event_publish(stream_id=stream_id, event_type=event_type, payload=payload)


@transaction.atomic
def room_moderator_add(*, host: User, user_id: int) -> tuple[RoomModerator, bool]:
    """Appoint a room moderator for all of the host's rooms (at most LIVE_ROOM_MODERATORS_MAX).
    Appointing one already appointed changes nothing: (the appointment, False)."""
    if user_id == host.pk:
        raise RoomModeratorInvalid()
    moderator = User.objects.filter(pk=user_id, is_active=True).first()
    if moderator is None:
        raise NotFound(gettext_lazy("No such user."))
    if is_blocked_between(user_id=host.pk, other_id=user_id):
        raise StreamBlocked()
    most = settings.LIVE_ROOM_MODERATORS_MAX
    appointment, added = user_capped_add(
        user_id=host.pk,
        rows=RoomModerator.objects.filter(host_id=host.pk),
        existing=RoomModerator.objects.filter(host_id=host.pk, moderator_id=user_id),
        most=most,
        limit_error=RoomModeratorLimit(details={"max": most}),
        create=lambda: RoomModerator.objects.create(host_id=host.pk, moderator=moderator),
    )
    if not added:
        return appointment, False
    _room_moderators_changed(
        host_id=host.pk, event_type="room.moderator_added", payload={"user": user_brief(moderator)}
    )
    _room_action_record(
        action="moderator_add", actor_id=host.pk, stream_id=None, target_user_id=user_id, reason="", details={}
    )
    logger.info("room moderator added", extra={"host_id": host.pk, "user_id": user_id})
    return appointment, True


@transaction.atomic
def room_moderator_remove(*, host: User, user_id: int) -> None:
    """Dismiss one of the host's room moderators (NotFound when they are none)."""
    deleted, _ = RoomModerator.objects.filter(host_id=host.pk, moderator_id=user_id).delete()
    if not deleted:
        raise NotFound(gettext_lazy("No such room moderator."))
    _room_moderators_changed(host_id=host.pk, event_type="room.moderator_removed", payload={"user_id": user_id})
    _room_action_record(
        action="moderator_remove", actor_id=host.pk, stream_id=None, target_user_id=user_id, reason="", details={}
    )
    logger.info("room moderator removed", extra={"host_id": host.pk, "user_id": user_id})


@transaction.atomic
def user_live_presence_end(*, user_id: int, reason: str) -> int:
    """Take a user out of live for good (their account is being deleted): their preparing or live
    streams end (rooms told), their appointments as a room moderator end both ways. Their own room
    sockets close with the sessions they lost. Returns how many streams ended."""
    stream_ids = list(
        Stream.objects.filter(host_id=user_id)
        .exclude(status__in=Stream.ENDED_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for stream_id in stream_ids:  # in pk order, as every Stream lock
        stream_end(stream_id=stream_id, reason=reason)
    for host_id, moderator_id in RoomModerator.objects.filter(Q(host_id=user_id) | Q(moderator_id=user_id)).values_list(
        "host_id", "moderator_id"
    ):
        RoomModerator.objects.filter(host_id=host_id, moderator_id=moderator_id).delete()
        _room_moderators_changed(
            host_id=host_id, event_type="room.moderator_removed", payload={"user_id": moderator_id}
        )
    return len(stream_ids)


# --- Going live and ending ----------------------------------------------------------------------


def stream_go_live(*, host: User, title: str, category: str = "", cover: Any = None) -> Stream:
    """Start a live stream (banned words in its title masked), linked to the host's schedule due
    around now. Refused to banned accounts, to accounts without a verified phone
    (PhoneVerificationRequired), to minors and age-held accounts, to accounts without a verified age
    (AgeVerificationRequired), and to a host already live."""
    if host.is_banned:
        raise AccountBanned.of(host)
    user_require_verified_phone(
        user=host,
        message=gettext_lazy("Going live needs a verified phone number. Verify yours under Account, then go live."),
    )
    user_require_verified_age(
        user=host,
        message=gettext_lazy(
            "Going live needs a verified age. Take the selfie age check under Age verification, then go live."
        ),
    )
    now = timezone.now()
    stream = Stream(
        host=host,
        title=text_mask(title),
        category_id=category_resolve(category),
        status=Stream.Status.LIVE,
        started_at=now,
        last_heartbeat_at=now,
    )
    if cover:
        stream.cover = cover
    try:
        with transaction.atomic():
            stream.save()
            schedule_link(stream=stream)
    except IntegrityError:
        # The partial unique index on (host) for preparing/live streams decides, even under a race.
        current = Stream.objects.filter(host=host, status__in=Stream.ACTIVE_STATUSES).values_list("pk", flat=True)
        raise AlreadyLive(details={"stream_id": next(iter(current), None)}) from None
    transaction.on_commit(active_cache_clear)
    stream_went_live.send(sender=Stream, stream_id=stream.pk, host_id=host.pk)
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
    stream_facts_forget(stream_ids=[stream.pk])
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


def stream_facts_forget_on_unblock(*, blocker_id: int, blocked_id: int) -> None:
    """An unblock: the rooms of either user forget who they refuse (registered with accounts' block_delete)."""
    stream_facts_forget(
        stream_ids=Stream.objects.filter(
            host_id__in=[blocker_id, blocked_id], status__in=Stream.ACTIVE_STATUSES
        ).values_list("pk", flat=True)
    )


def stream_facts_forget_of_host(*, user_id: int) -> None:
    """The user's profile changed: the rooms that show them as a host (their own, and the other
    stream of their LinkCast) forget their facts (registered with accounts' profile_changed)."""
    own = list(Stream.objects.filter(host_id=user_id, status__in=Stream.ACTIVE_STATUSES).values_list("pk", flat=True))
    if not own:
        return
    partners = LinkCast.objects.filter(
        Q(host_stream_id__in=own) | Q(guest_stream_id__in=own), status=LinkCast.Status.ACTIVE
    ).values_list("host_stream_id", "guest_stream_id")
    stream_facts_forget(stream_ids=[*own, *(pk for pair in partners for pk in pair)])


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
        stream_facts_forget(stream_ids=stream_ids)
        for stream_id in stream_ids:
            user_sockets_close(user_id=viewer_id, reason="user_blocked", stream_id=stream_id)


# --- Host actions (also open to moderation with by=None) ---------------------------------------


@transaction.atomic
def stream_viewer_kick(*, stream_id: int, user_id: int, by: User | None = None, reason: str = "") -> StreamKick:
    """Remove a viewer: their sockets in this room close and they cannot rejoin this stream."""
    stream = stream_locked(stream_id)
    as_moderator = _require_room_moderator(stream, by, target_user_id=user_id)
    if user_id == stream.host_id:
        raise NotStreamHost(gettext_lazy("The host cannot be kicked from their own stream."))
    if not User.objects.filter(pk=user_id).exists():
        raise NotFound(gettext_lazy("No such user."))
    kick, _ = StreamKick.objects.get_or_create(
        stream=stream, user_id=user_id, defaults={"kicked_by": by, "reason": reason[:300]}
    )
    if as_moderator and by is not None:
        _room_action_record(
            action="room_kick", actor_id=by.pk, stream_id=stream.pk, target_user_id=user_id, reason=reason, details={}
        )
    StreamViewer.objects.filter(stream=stream, user_id=user_id, left_at__isnull=True).update(left_at=timezone.now())
    room_event_publish(stream_id=stream.pk, event_type="viewer.kicked", payload={"user_id": user_id})
    stream_facts_forget(stream_ids=[stream.pk])
    user_sockets_close(user_id=user_id, reason="kicked", stream_id=stream.pk)
    return kick


@transaction.atomic
def stream_viewer_mute(
    *, stream_id: int, user_id: int, by: User | None = None, minutes: int | None = None
) -> StreamMute:
    """Mute a viewer in this room's chat for some minutes (None: until the stream ends)."""
    stream = stream_locked(stream_id)
    as_moderator = _require_room_moderator(stream, by, target_user_id=user_id)
    if user_id == stream.host_id:
        raise NotStreamHost(gettext_lazy("The host cannot be muted in their own stream."))
    if not User.objects.filter(pk=user_id).exists():
        raise NotFound(gettext_lazy("No such user."))
    until = timezone.now() + timedelta(minutes=minutes) if minutes else None
    mute, _ = StreamMute.objects.update_or_create(stream=stream, user_id=user_id, defaults={"muted_until": until})
    if as_moderator and by is not None:
        _room_action_record(
            action="room_mute",
            actor_id=by.pk,
            stream_id=stream.pk,
            target_user_id=user_id,
            reason="",
            details={"until": iso_utc(until)},
        )
    stream_facts_forget(stream_ids=[stream.pk])
    room_event_publish(
        stream_id=stream.pk,
        event_type="chat.muted",
        payload={"user_id": user_id, "until": iso_utc(until)},
    )
    return mute


@transaction.atomic
def stream_viewer_unmute(*, stream_id: int, user_id: int, by: User | None = None) -> None:
    stream = stream_locked(stream_id)
    as_moderator = _require_room_moderator(stream, by, target_user_id=user_id)
    StreamMute.objects.filter(stream=stream, user_id=user_id).delete()
    if as_moderator and by is not None:
        _room_action_record(
            action="room_unmute", actor_id=by.pk, stream_id=stream.pk, target_user_id=user_id, reason="", details={}
        )
    stream_facts_forget(stream_ids=[stream.pk])
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
    stream_facts_forget(stream_ids=[stream.pk])
    room_event_publish(
        stream_id=stream.pk,
        event_type="chat.mode",
        payload={"mode": stream.chat_mode, "slow_mode_seconds": stream.slow_mode_seconds},
    )
    return stream


@transaction.atomic
def stream_message_pin(*, stream_id: int, by: User | None, message: dict[str, Any] | None) -> Stream:
    """Pin a chat message (a `chat.message` payload) for everyone, or unpin with None. The host or
    one of their room moderators."""
    stream = stream_locked(stream_id)
    as_moderator = _require_room_moderator(stream, by)
    stream.pinned_message = message
    stream.save(update_fields=["pinned_message"])
    if as_moderator and by is not None:
        _room_action_record(
            action="chat_pin" if message else "chat_unpin",
            actor_id=by.pk,
            stream_id=stream.pk,
            target_user_id=_author_id(message),
            reason="",
            details={"message": message} if message else {},
        )
    stream_facts_forget(stream_ids=[stream.pk])
    if message is None:
        room_event_publish(stream_id=stream.pk, event_type="chat.unpinned", payload={})
    else:
        room_event_publish(stream_id=stream.pk, event_type="chat.pinned", payload={"message": message})
    return stream


def _author_id(message: dict[str, Any] | None) -> int | None:
    author = (message or {}).get("user") or {}
    author_id = author.get("id")
    return author_id if isinstance(author_id, int) else None


@transaction.atomic
def stream_message_delete(
    *, stream_id: int, by: User | None, message_id: str, message: dict[str, Any] | None = None
) -> None:
    """Delete a chat message for everyone (`chat.deleted`); a pinned one is unpinned too. The host or
    one of their room moderators; `message` is the `chat.message` payload when it is still in the
    recent history (the caller takes it out), so the audit log keeps what was deleted. A moderator
    may not delete the host's or another moderator's message."""
    stream = stream_locked(stream_id)
    author_id = _author_id(message)
    as_moderator = _require_room_moderator(stream, by, target_user_id=author_id)
    if as_moderator and author_id == stream.host_id:
        raise NotRoomModerator(
            gettext_lazy("Only the host can delete the host's messages."), details={"reason": "target_is_host"}
        )
    pinned = stream.pinned_message or {}
    if pinned.get("id") == message_id:
        stream.pinned_message = None
        stream.save(update_fields=["pinned_message"])
        room_event_publish(stream_id=stream.pk, event_type="chat.unpinned", payload={})
    room_event_publish(
        stream_id=stream.pk,
        event_type="chat.deleted",
        payload={"message_id": message_id, "user_id": author_id, "by": by.pk if by else None},
    )
    if as_moderator and by is not None:
        _room_action_record(
            action="chat_delete",
            actor_id=by.pk,
            stream_id=stream.pk,
            target_user_id=author_id,
            reason="",
            details={"message_id": message_id, "text": (message or {}).get("text", "")},
        )


def stream_gift_totals_set(*, totals: Iterable[tuple[int, int, int]]) -> int:
    """Store the gift totals the gifts app counted: (stream id, gift coins, gifts) each. Returns the
    streams changed. Called periodically, never per gift: one popular stream's row would otherwise
    serialise every gift to it."""
    changed: list[int] = []
    for stream_id, coins, gifts in totals:
        if (
            Stream.objects.filter(pk=stream_id)
            .exclude(gift_coins_total=coins, gifts_count=gifts)
            .update(gift_coins_total=coins, gifts_count=gifts)
        ):
            changed.append(stream_id)
    stream_facts_forget(stream_ids=changed)  # the welcome shows the totals
    return len(changed)


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
