"""LinkCast: two live hosts broadcasting together (invite, accept or decline, leave, audio, tokens).

A LinkCast changes only while both of its streams are locked (`linkcast_streams_locked`).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.accounts.selectors import is_blocked_between
from apps.core.exceptions import NotFound
from apps.live import agora
from apps.live.events import rooms_event_publish, user_event_publish
from apps.live.exceptions import LinkCastError, NotStreamHost, StreamBlocked, StreamNotLive
from apps.live.locks import linkcast_streams_locked
from apps.live.models import LinkCast, Stream
from apps.live.pk import pk_cancel_running
from apps.live.room_join import stream_facts_forget
from apps.live.selectors import linkcast_get, linkcast_public, user_brief


def linkcast_close(linkcast: LinkCast, *, reason: str) -> None:
    """End an active LinkCast (cancelling its running battle) or close an invitation.

    Caller holds the locks of the LinkCast's streams (or ends one of them)."""
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
        pk_cancel_running(linkcast)
    payload = {"linkcast_id": linkcast.pk, "status": linkcast.status, "reason": reason}
    if was_active:
        rooms_event_publish(stream_ids=linkcast.stream_ids, event_type="linkcast.ended", payload=payload)
        stream_facts_forget(stream_ids=linkcast.stream_ids)
    else:
        for user_id in (linkcast.host_stream.host_id, linkcast.guest_stream.host_id):
            user_event_publish(user_id=user_id, event_type=f"linkcast.{linkcast.status}", payload=payload)


def _invite_expired(linkcast: LinkCast) -> bool:
    return linkcast.created_at < timezone.now() - timedelta(seconds=settings.LIVE_LINKCAST_INVITE_SECONDS)


@transaction.atomic
def linkcast_invite(*, user: User, guest_stream_id: int) -> LinkCast:
    """The host of a live stream invites the host of another live stream to broadcast together."""
    mine = Stream.objects.filter(host=user, status=Stream.Status.LIVE).values_list("pk", flat=True).first()
    if mine is None:
        raise StreamNotLive(gettext_lazy("Go live before inviting someone to a LinkCast."))
    if mine == guest_stream_id:
        raise LinkCastError(gettext_lazy("You cannot invite yourself."))
    streams = {
        s.pk: s for s in Stream.objects.select_for_update().filter(pk__in=[mine, guest_stream_id]).order_by("pk")
    }
    guest = streams.get(guest_stream_id)
    if guest is None:
        raise NotFound(gettext_lazy("No such stream."))
    if not guest.is_live:
        raise StreamNotLive(gettext_lazy("That stream is not live."))
    if is_blocked_between(user_id=user.pk, other_id=guest.host_id):
        raise StreamBlocked()
    busy = LinkCast.objects.filter(
        Q(host_stream_id__in=streams) | Q(guest_stream_id__in=streams), status__in=LinkCast.OPEN_STATUSES
    )
    for stale in busy:
        if stale.status == LinkCast.Status.INVITED and _invite_expired(stale):
            linkcast_close(stale, reason="expired")
        else:
            raise LinkCastError(
                gettext_lazy("One of the two streams is already in a LinkCast or has an open invitation.")
            )
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


@transaction.atomic
def linkcast_accept(*, linkcast_id: int, user: User) -> LinkCast:
    linkcast = linkcast_streams_locked(linkcast_id)
    if linkcast.guest_stream.host_id != user.pk:
        raise NotStreamHost(gettext_lazy("Only the invited host can accept."))
    if linkcast.status != LinkCast.Status.INVITED:
        raise LinkCastError(gettext_lazy("This invitation is no longer open."), details={"status": linkcast.status})
    if _invite_expired(linkcast):
        linkcast_close(linkcast, reason="expired")
        raise LinkCastError(gettext_lazy("This invitation expired."), details={"status": LinkCast.Status.EXPIRED})
    if not (linkcast.host_stream.is_live and linkcast.guest_stream.is_live):
        raise StreamNotLive(gettext_lazy("Both streams must be live."))
    linkcast.status = LinkCast.Status.ACTIVE
    linkcast.started_at = timezone.now()
    linkcast.save(update_fields=["status", "started_at"])
    stream_facts_forget(stream_ids=linkcast.stream_ids)
    rooms_event_publish(
        stream_ids=linkcast.stream_ids, event_type="linkcast.started", payload=linkcast_public(linkcast)
    )
    return linkcast


@transaction.atomic
def linkcast_decline(*, linkcast_id: int, user: User) -> LinkCast:
    linkcast = linkcast_streams_locked(linkcast_id)
    if linkcast.guest_stream.host_id != user.pk:
        raise NotStreamHost(gettext_lazy("Only the invited host can decline."))
    if linkcast.status != LinkCast.Status.INVITED:
        raise LinkCastError(gettext_lazy("This invitation is no longer open."), details={"status": linkcast.status})
    linkcast_close(linkcast, reason="declined")
    return linkcast


@transaction.atomic
def linkcast_leave(*, linkcast_id: int, user: User) -> LinkCast:
    """Either host leaves (or the inviter withdraws the invitation): both return to solo."""
    linkcast = linkcast_streams_locked(linkcast_id)
    if user.pk not in (linkcast.host_stream.host_id, linkcast.guest_stream.host_id):
        raise NotStreamHost(gettext_lazy("Only the two hosts can end a LinkCast."))
    if linkcast.status not in LinkCast.OPEN_STATUSES:
        return linkcast
    linkcast_close(linkcast, reason="left")
    return linkcast


@transaction.atomic
def linkcast_audio_set(*, linkcast_id: int, user: User, target_user_id: int, muted: bool) -> LinkCast:
    """A host mutes or unmutes their own audio; the main host may also mute or unmute the guest."""
    linkcast = linkcast_streams_locked(linkcast_id)
    host_id, guest_id = linkcast.host_stream.host_id, linkcast.guest_stream.host_id
    if linkcast.status != LinkCast.Status.ACTIVE:
        raise LinkCastError(gettext_lazy("This LinkCast is not active."), details={"status": linkcast.status})
    if target_user_id not in (host_id, guest_id):
        raise LinkCastError(gettext_lazy("That user is not in this LinkCast."))
    if user.pk not in (host_id, guest_id) or (user.pk == guest_id and target_user_id != guest_id):
        raise NotStreamHost(gettext_lazy("You can only change your own audio."))
    if target_user_id == host_id:
        linkcast.host_audio_muted = muted
    else:
        linkcast.guest_audio_muted = muted
    linkcast.save(update_fields=["host_audio_muted", "guest_audio_muted"])
    stream_facts_forget(stream_ids=linkcast.stream_ids)
    rooms_event_publish(
        stream_ids=linkcast.stream_ids,
        event_type="linkcast.audio",
        payload={"linkcast_id": linkcast.pk, "user_id": target_user_id, "muted": muted, "by": user.pk},
    )
    return linkcast


def linkcast_token_issue(*, linkcast_id: int, user: User) -> dict[str, Any]:
    """A publisher token for the shared channel, for either host of an active LinkCast."""
    linkcast = linkcast_get(linkcast_id=linkcast_id)
    if user.pk not in (linkcast.host_stream.host_id, linkcast.guest_stream.host_id):
        raise NotStreamHost(gettext_lazy("Only the two hosts get publisher tokens for a LinkCast."))
    if linkcast.status != LinkCast.Status.ACTIVE:
        raise LinkCastError(gettext_lazy("This LinkCast is not active."), details={"status": linkcast.status})
    return agora.rtc_token_build(channel=linkcast.channel_name, uid=user.pk, role=agora.RtcRole.PUBLISHER).as_dict()
