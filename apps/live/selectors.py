"""Reads of the live app: streams, rooms, LinkCasts; and the SQL twins of its rules for other apps' statements."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.selectors import blocked_user_ids, blocks_between, follow_links, following_ids, is_blocked_between
from apps.core.exceptions import NotFound
from apps.core.timestamps import iso_utc
from apps.live.exceptions import KickedFromStream, NotAuthenticated, StreamBlocked, StreamNotLive
from apps.live.models import LinkCast, Stream, StreamKick, StreamMute
from apps.og.selectors import user_has_active_og

logger = logging.getLogger(__name__)

ACTIVE_CACHE_KEY = "live:active:v1"
ACTIVE_MAX = 500  # the cached list holds the most popular live streams only


def stream_get(*, stream_id: int) -> Stream:
    try:
        return Stream.objects.select_related("host").get(pk=stream_id)
    except Stream.DoesNotExist:
        raise NotFound(gettext_lazy("No such stream.")) from None


@dataclass(frozen=True)
class StreamHost:
    id: int
    host_id: int
    is_live: bool


def stream_host(*, stream_id: int) -> StreamHost:
    """The stream's host and whether it is live (one small query); NotFound when there is none."""
    row = Stream.objects.filter(pk=stream_id).values_list("host_id", "status").first()
    if row is None:
        raise NotFound(gettext_lazy("No such stream."))
    return StreamHost(id=stream_id, host_id=row[0], is_live=row[1] == Stream.Status.LIVE)


def user_brief(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.name,
        "avatar": user.avatar.url if user.avatar else None,
    }


def _active_row(stream: Stream) -> dict[str, Any]:
    return {
        "id": stream.pk,
        "title": stream.title,
        "category": stream.category,
        "cover": stream.cover.url if stream.cover else None,
        "host": user_brief(stream.host),
        "current_viewers": stream.current_viewers,
        "likes_total": stream.likes_total,
        "started_at": iso_utc(stream.started_at),
    }


def _active_rows() -> list[dict[str, Any]]:
    """Every live stream, most watched first; cached for LIVE_ACTIVE_CACHE_SECONDS so a burst costs one query."""
    rows: list[dict[str, Any]] | None = cache.get(ACTIVE_CACHE_KEY)
    if rows is None:
        qs = (
            Stream.objects.filter(status=Stream.Status.LIVE)
            .select_related("host")
            .order_by("-current_viewers", "-started_at", "-pk")[:ACTIVE_MAX]
        )
        rows = [_active_row(s) for s in qs]
        cache.set(ACTIVE_CACHE_KEY, rows, timeout=settings.LIVE_ACTIVE_CACHE_SECONDS)
    return rows


def active_cache_clear() -> None:
    cache.delete(ACTIVE_CACHE_KEY)


def stream_list_live(*, viewer: User, category: str = "", following: bool = False) -> list[dict[str, Any]]:
    """Live streams for a viewer: popular first, optionally one category or hosts the viewer follows.

    Hosts the viewer blocked (or who blocked the viewer) are left out.
    """
    rows = _active_rows()
    hidden = blocked_user_ids(user=viewer)
    followed: set[int] | None = None
    if following:
        followed = {row["followee_id"] for row in following_ids(user=viewer)}
    category = category.strip().lower()
    return [
        row
        for row in rows
        if row["host"]["id"] not in hidden
        and (not category or row["category"].lower() == category)
        and (followed is None or row["host"]["id"] in followed)
    ]


def linkcast_open_for_stream(
    *, stream_id: int, statuses: tuple[str, ...] = (LinkCast.Status.ACTIVE,)
) -> LinkCast | None:
    return (
        LinkCast.objects.filter(Q(host_stream_id=stream_id) | Q(guest_stream_id=stream_id), status__in=statuses)
        .select_related("host_stream__host", "guest_stream__host")
        .first()
    )


def linkcast_get(*, linkcast_id: int) -> LinkCast:
    try:
        return LinkCast.objects.select_related("host_stream__host", "guest_stream__host").get(pk=linkcast_id)
    except LinkCast.DoesNotExist:
        raise NotFound(gettext_lazy("No such LinkCast.")) from None


def linkcast_public(linkcast: LinkCast) -> dict[str, Any]:
    """What a room and the API show of a LinkCast (no tokens)."""
    return {
        "id": linkcast.pk,
        "status": linkcast.status,
        "channel": linkcast.channel_name if linkcast.status == LinkCast.Status.ACTIVE else None,
        "hosts": [
            {
                "stream_id": linkcast.host_stream_id,
                "user": user_brief(linkcast.host_stream.host),
                "role": "host",
                "audio_muted": linkcast.host_audio_muted,
            },
            {
                "stream_id": linkcast.guest_stream_id,
                "user": user_brief(linkcast.guest_stream.host),
                "role": "guest",
                "audio_muted": linkcast.guest_audio_muted,
            },
        ],
    }


def stream_mute_until(*, stream_id: int, user_id: int) -> tuple[bool, datetime | None]:
    """(muted, until) for the host's chat mute of a viewer; until None with muted True means until the end."""
    mute = StreamMute.objects.filter(stream_id=stream_id, user_id=user_id).first()
    if mute is None or (mute.muted_until is not None and mute.muted_until <= timezone.now()):
        return False, None
    return True, mute.muted_until


def stream_watch_check(*, stream: Stream, user: User) -> None:
    """Refuse a viewer the stream (token, join, room): not live, banned, blocked either way, kicked."""
    if not user.is_authenticated:
        raise NotAuthenticated()
    if user.is_banned:
        raise AccountBanned.of(user)
    if stream.host_id == user.pk:
        if stream.status not in Stream.ACTIVE_STATUSES:
            raise StreamNotLive()
        return
    if not stream.is_live:
        raise StreamNotLive()
    if is_blocked_between(user_id=user.pk, other_id=stream.host_id):
        raise StreamBlocked()
    if StreamKick.objects.filter(stream=stream, user=user).exists():
        raise KickedFromStream()


@dataclass
class RoomAccess:
    """Everything a room socket needs to know about its user, read once on connect."""

    stream: dict[str, Any]
    role: str  # "host" or "viewer"
    user: dict[str, Any]
    follows_host: bool
    is_og: bool | None
    muted: bool
    muted_until: datetime | None
    linkcast: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)


def stream_room_state(stream: Stream) -> dict[str, Any]:
    return {
        "id": stream.pk,
        "title": stream.title,
        "category": stream.category,
        "status": stream.status,
        "host": user_brief(stream.host),
        "chat_mode": stream.chat_mode,
        "slow_mode_seconds": stream.slow_mode_seconds,
        "pinned": stream.pinned_message,
        "gift_coins_total": stream.gift_coins_total,
        "gifts_count": stream.gifts_count,
    }


def room_access(*, stream_id: int, user: User) -> RoomAccess:
    """The same refusals as stream_watch_check, in three queries: every room socket pays for this on connect."""
    if not user.is_authenticated:
        raise NotAuthenticated()
    stream = stream_get(stream_id=stream_id)
    is_host = stream.host_id == user.pk
    if is_host:
        stream_watch_check(stream=stream, user=user)
        muted, until, follows = False, None, True
    else:
        if not stream.is_live:
            raise StreamNotLive()
        if user.is_banned:
            stream_watch_check(stream=stream, user=user)  # raises AccountBanned
        host_id = stream.host_id
        mute = StreamMute.objects.filter(stream_id=stream.pk, user_id=user.pk)
        flags = (
            User.objects.filter(pk=user.pk)
            .annotate(
                blocked=Exists(blocks_between(user_id=user.pk, other_id=host_id)),
                kicked=Exists(StreamKick.objects.filter(stream_id=stream.pk, user_id=user.pk)),
                follows=Exists(follow_links(follower_id=user.pk, followee_id=host_id)),
                muted=Exists(mute),
                muted_until=Subquery(mute.values("muted_until")[:1]),
            )
            .values("blocked", "kicked", "follows", "muted", "muted_until")
            .get()
        )
        if flags["blocked"]:
            raise StreamBlocked()
        if flags["kicked"]:
            raise KickedFromStream()
        until = flags["muted_until"]
        muted = flags["muted"] and (until is None or until > timezone.now())
        follows = flags["follows"]
    linkcast = linkcast_open_for_stream(stream_id=stream.pk)
    return RoomAccess(
        stream=stream_room_state(stream),
        role="host" if is_host else "viewer",
        user=user_brief(user),
        follows_host=follows,
        is_og=None if stream.chat_mode != Stream.ChatMode.OG else user_has_active_og(user_id=user.pk),
        muted=muted,
        muted_until=until if muted else None,
        linkcast=linkcast_public(linkcast) if linkcast else None,
    )


def stream_figures(*, stream_ids: Iterable[int]) -> dict[int, tuple[int, datetime | None]]:
    """(peak viewers, started at) of each of these streams that exists, by id."""
    rows = Stream.objects.filter(pk__in=list(stream_ids)).values_list("pk", "peak_viewers", "started_at")
    return {pk: (peak, started_at) for pk, peak, started_at in rows}


# --- The same rules as SQL, for one-statement writes of other apps (the gift send) -------------


def stream_sql() -> str:
    """The streams as a SQL row source (columns id, host_id, status), for a statement that checks
    them in the database."""
    return f"(SELECT id, host_id, status FROM {Stream._meta.db_table})"  # noqa: S608


def stream_is_live_sql(stream: str) -> str:
    """`Stream.is_live` as a SQL condition on a row of `stream_sql()` aliased `stream`."""
    return f"{stream}.status = '{Stream.Status.LIVE.value}'"
