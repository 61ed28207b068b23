"""A stream's status as other apps need it (is it there, whose, is it on air) and ending streams on
their behalf (moderation: a blocked frame, a suspension, an age hold).

Other apps never read, lock or write Stream rows themselves: they call these. Ending locks the
Stream row, so a caller that also locks a User takes the user after this (README: lock order).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.live.models import Stream
from apps.live.services import stream_end


@dataclass(frozen=True)
class StreamStatus:
    stream_id: int
    host_id: int
    is_active: bool  # preparing or live: it can still be ended
    is_live: bool


def stream_status(*, stream_id: int) -> StreamStatus | None:
    """The stream's host and status, or None when there is no such stream."""
    row = Stream.objects.filter(pk=stream_id).values_list("host_id", "status").first()
    if row is None:
        return None
    host_id, status = row
    return StreamStatus(
        stream_id=stream_id,
        host_id=host_id,
        is_active=status in Stream.ACTIVE_STATUSES,
        is_live=status == Stream.Status.LIVE,
    )


@dataclass(frozen=True)
class StreamHostStanding(StreamStatus):
    """The stream's status with its host's standing, for a hot endpoint that authenticates from the
    token alone and checks the account here, in the query it makes anyway (frame uploads)."""

    host_is_active: bool
    host_banned_until: datetime | None


def stream_host_standing(*, stream_id: int) -> StreamHostStanding | None:
    """The stream's host and status and whether that account is active or banned (one query, joined
    on the host's primary key), or None when there is no such stream."""
    row = (
        Stream.objects.filter(pk=stream_id)
        .values_list("host_id", "status", "host__is_active", "host__banned_until")
        .first()
    )
    if row is None:
        return None
    host_id, status, host_is_active, host_banned_until = row
    return StreamHostStanding(
        stream_id=stream_id,
        host_id=host_id,
        is_active=status in Stream.ACTIVE_STATUSES,
        is_live=status == Stream.Status.LIVE,
        host_is_active=host_is_active,
        host_banned_until=host_banned_until,
    )


def host_active_stream_ids(*, host_id: int) -> list[int]:
    """The host's streams that are preparing or live (at most one, by the partial unique index)."""
    active = Stream.objects.filter(host_id=host_id, status__in=Stream.ACTIVE_STATUSES)
    return list(active.order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def stream_end_if_active(*, stream_id: int, reason: str, by_moderation: bool = False) -> bool:
    """End the stream unless it has ended already. True when this call ended it, so a caller acting
    on "the stream was cut" (a strike) acts once however many verdicts arrive together."""
    status = Stream.objects.select_for_update().filter(pk=stream_id).values_list("status", flat=True).first()
    if status not in Stream.ACTIVE_STATUSES:
        return False
    stream_end(stream_id=stream_id, reason=reason, by_moderation=by_moderation)
    return True


def host_streams_end(*, host_id: int, reason: str, by_moderation: bool = False) -> list[int]:
    """End every stream of the host that is still active; the ids of those this call ended."""
    return [
        stream_id
        for stream_id in host_active_stream_ids(host_id=host_id)
        if stream_end_if_active(stream_id=stream_id, reason=reason, by_moderation=by_moderation)
    ]


def stream_gifting_pause(*, stream_id: int, paused: bool) -> bool:
    """Pause (or resume) gift sends to the stream, for moderation reviewing a possible minor on it.
    True when this call changed it. One conditional UPDATE: no row lock is held past the statement."""
    rows = Stream.objects.filter(pk=stream_id, gifting_paused_at__isnull=paused)
    return rows.update(gifting_paused_at=timezone.now() if paused else None) == 1
