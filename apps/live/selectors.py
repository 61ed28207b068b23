"""Reads of the live app: streams, rooms, LinkCasts; and the SQL twins of its rules for other apps' statements."""

import base64
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.selectors import blocked_user_ids, blocks_between, follow_links, following_ids, is_blocked_between
from apps.core.exceptions import NotFound
from apps.core.timestamps import iso_utc
from apps.live.categories import CategoryEntry as CategoryEntry
from apps.live.categories import category_list_active as category_list_active
from apps.live.categories import category_name as category_name
from apps.live.exceptions import InvalidCursor, KickedFromStream, NotAuthenticated, StreamBlocked, StreamNotLive
from apps.live.models import (
    LinkCast,
    RoomModerator,
    ScheduledStream,
    ScheduleSubscription,
    Stream,
    StreamKick,
    StreamMute,
    StreamViewer,
)
from apps.live.pk import PkMarker as PkMarker
from apps.live.pk import pk_marker_from_reads as pk_marker_from_reads
from apps.live.pk import pk_marker_key as pk_marker_key
from apps.live.trending import trending_page
from apps.og.selectors import user_has_active_og

logger = logging.getLogger(__name__)


def stream_get(*, stream_id: int) -> Stream:
    try:
        return Stream.objects.select_related("host").get(pk=stream_id)
    except Stream.DoesNotExist:
        raise NotFound(gettext_lazy("No such stream.")) from None


GiftTotalsReader = Callable[..., tuple[int, int]]  # reader(stream_id=) -> (gift coins, gifts)
_gift_totals_reader: GiftTotalsReader | None = None


def stream_gift_totals_reader_register(reader: GiftTotalsReader) -> None:
    """Say where a stream's current gift totals come from (the gifts app, once at start-up)."""
    global _gift_totals_reader
    _gift_totals_reader = reader


def stream_with_gift_totals(stream: Stream) -> Stream:
    """The stream with its gift totals as of now (read from the gift records). The columns on the
    row are only refreshed periodically (gifts.stream_gift_totals_refresh): a write per gift would
    make a popular stream's row serialise every gift to it."""
    if _gift_totals_reader is not None:
        stream.gift_coins_total, stream.gifts_count = _gift_totals_reader(stream_id=stream.pk)
    return stream


@dataclass(frozen=True)
class StreamHost:
    id: int
    host_id: int
    is_live: bool
    gifting_paused: bool = False


def stream_host(*, stream_id: int) -> StreamHost:
    """The stream's host, whether it is live and whether its gifting is paused (one small query);
    NotFound when there is none."""
    row = Stream.objects.filter(pk=stream_id).values_list("host_id", "status", "gifting_paused_at").first()
    if row is None:
        raise NotFound(gettext_lazy("No such stream."))
    return StreamHost(
        id=stream_id, host_id=row[0], is_live=row[1] == Stream.Status.LIVE, gifting_paused=row[2] is not None
    )


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
        "category": stream.category_slug,
        "cover": stream.cover.url if stream.cover else None,
        "host": user_brief(stream.host),
        "current_viewers": stream.current_viewers,
        "likes_total": stream.likes_total,
        "started_at": iso_utc(stream.started_at),
    }


# The live list is ranked in PostgreSQL by (current_viewers, id), descending, on the index
# (status, -current_viewers, -id). current_viewers is written to the row by the room's ticker when the
# count changed (one process per room and LIVE_VIEWERS_BROADCAST_SECONDS), never per join. A first
# page ranks the ids of every matching live stream (filters in the WHERE clause) into a snapshot kept
# ACTIVE_SNAPSHOT_SECONDS; the cursor is (snapshot, position), so paging never repeats or skips a
# stream while counts move, and only the rows of the page returned are read and built.
ACTIVE_SNAPSHOT_SECONDS = 600
_GENERATION_KEY = "live:active:generation"  # bumped when a stream goes live or ends


@dataclass(frozen=True)
class ActivePage:
    count: int
    next_cursor: str | None
    next_offset: int | None  # deprecated: the position of the next page within this page's ranking
    results: list[dict[str, Any]]


def active_cache_clear() -> None:
    """A stream went live or ended: the next first page ranks afresh (open cursors keep their snapshot)."""
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:  # not set yet (or evicted)
        cache.set(_GENERATION_KEY, 1, timeout=None)


def _cursor_encode(snapshot: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{snapshot}:{position}".encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[str, int]:
    try:
        snapshot, position = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        if not snapshot.isalnum() or not position.isdigit():
            raise ValueError(cursor)
        return snapshot, int(position)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None


def _ranked_ids(*, hidden: set[int], category: str, following_of: User | None) -> list[int]:
    """Ids of the live streams that pass the filters, most watched first (the ranking, in SQL)."""
    qs = Stream.objects.filter(status=Stream.Status.LIVE)
    if hidden:
        qs = qs.exclude(host_id__in=hidden)
    if category:
        qs = qs.filter(category_id=category.lower())
    if following_of is not None:
        qs = qs.filter(host_id__in=following_ids(user=following_of))
    return list(qs.order_by("-current_viewers", "-id").values_list("id", flat=True))


def _snapshot(*, viewer: User, category: str, following: bool) -> tuple[str, list[int]]:
    """The ranking for a first page: shared by every viewer with the same filters for
    LIVE_ACTIVE_CACHE_SECONDS (a burst ranks once), kept ACTIVE_SNAPSHOT_SECONDS for its cursors."""
    hidden = blocked_user_ids(user=viewer)
    generation = cache.get(_GENERATION_KEY, 0)
    filters = f"{category}|{viewer.pk if following else 0}|{','.join(map(str, sorted(hidden)))}"
    shared_key = f"live:active:first:{generation}:{hashlib.sha256(filters.encode()).hexdigest()[:32]}"
    snapshot = cache.get(shared_key)
    ids = cache.get(f"live:active:snapshot:{snapshot}") if snapshot else None
    if ids is None:
        snapshot = uuid.uuid4().hex
        ids = _ranked_ids(hidden=hidden, category=category, following_of=viewer if following else None)
        cache.set(f"live:active:snapshot:{snapshot}", ids, timeout=ACTIVE_SNAPSHOT_SECONDS)
        cache.set(shared_key, snapshot, timeout=settings.LIVE_ACTIVE_CACHE_SECONDS)
    return snapshot, ids


def _page_rows(snapshot: str, position: int, ids: list[int]) -> list[dict[str, Any]]:
    """The page's rows in snapshot order (streams that ended since are left out), cached briefly."""
    key = f"live:active:page:{snapshot}:{position}:{len(ids)}"
    rows: list[dict[str, Any]] | None = cache.get(key)
    if rows is None:
        streams = Stream.objects.filter(pk__in=ids, status=Stream.Status.LIVE).select_related("host").in_bulk()
        rows = [_active_row(streams[pk]) for pk in ids if pk in streams]
        cache.set(key, rows, timeout=settings.LIVE_ACTIVE_CACHE_SECONDS)
    return rows


def stream_list_live(
    *,
    viewer: User,
    category: str = "",
    following: bool = False,
    limit: int = 20,
    cursor: str | None = None,
    offset: int = 0,
) -> ActivePage:
    """One page of the live streams for a viewer: most watched first, optionally one category or hosts
    the viewer follows; hosts the viewer blocked (or who blocked the viewer) are left out. Every live
    stream is reachable by following `next_cursor`. `offset` (deprecated, for clients built before the
    cursor) starts that far into the current ranking instead."""
    if cursor:
        snapshot, position = _cursor_decode(cursor)
        ids = cache.get(f"live:active:snapshot:{snapshot}")
        if ids is None:
            raise InvalidCursor("This list has expired; start again from the first page.")
    else:
        snapshot, ids = _snapshot(viewer=viewer, category=category.strip().lower(), following=following)
        position = offset
    page_ids = ids[position : position + limit]
    end = position + len(page_ids)
    return ActivePage(
        count=len(ids),
        next_cursor=_cursor_encode(snapshot, end) if end < len(ids) else None,
        next_offset=end if end < len(ids) else None,
        results=_with_category_names(_page_rows(snapshot, position, page_ids)) if page_ids else [],
    )


def stream_list_trending(*, viewer: User, limit: int = 20, cursor: str | None = None) -> ActivePage:
    """One page of the trending live streams for the viewer (apps.live.trending has the formula)."""
    page = trending_page(viewer=viewer, limit=limit, cursor=cursor)
    ids = [stream_id for stream_id, _ in page.results]
    streams = Stream.objects.filter(pk__in=ids, status=Stream.Status.LIVE).select_related("host").in_bulk()
    rows = [
        {**_active_row(streams[stream_id]), "trending_score": score}
        for stream_id, score in page.results
        if stream_id in streams
    ]
    return ActivePage(
        count=page.count, next_cursor=page.next_cursor, next_offset=None, results=_with_category_names(rows)
    )


def _with_category_names(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their category's name in the reader's language (the cached rows are shared by
    readers of every language, so the name is added after)."""
    return [{**row, "category_name": category_name(row["category"])} for row in rows]


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
    role: str  # "host", "moderator" (of the host's rooms) or "viewer"
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
        "category": stream.category_slug,
        "status": stream.status,
        "host": user_brief(stream.host),
        "chat_mode": stream.chat_mode,
        "slow_mode_seconds": stream.slow_mode_seconds,
        "pinned": stream.pinned_message,
        "gift_coins_total": stream.gift_coins_total,
        "gifts_count": stream.gifts_count,
    }


def room_access(*, stream_id: int, user: User) -> RoomAccess:
    """The same refusals as stream_watch_check, in three queries: a room connect without Redis (the
    embedded default) pays for this; with Redis, apps.live.room_join reads the same from its cache."""
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
        role="host"
        if is_host
        else "moderator"
        if stream_moderator_is_cached(host_id=stream.host_id, user_id=user.pk)
        else "viewer",
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


@dataclass(frozen=True)
class HostedStream:
    """What the live app records of one of a host's streams, for their earnings."""

    id: int
    title: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    peak_viewers: int  # the room's largest viewer count, as measured from presence
    unique_viewers: int  # viewers who joined through the API (one each, however often they rejoined)


def host_has_streamed(*, host_id: int) -> bool:
    """True once the user has opened a stream: who counts as a host."""
    return Stream.objects.filter(host_id=host_id).exists()


def host_streams_between(
    *, host_id: int, since: datetime, until: datetime, also_ids: Iterable[int] = ()
) -> list[HostedStream]:
    """The host's streams that started in [since, until), plus those of `also_ids` that are theirs
    (a stream that started earlier but earned in the period), oldest first; one query."""
    started = Q(started_at__gte=since, started_at__lt=until) | Q(
        started_at__isnull=True, created_at__gte=since, created_at__lt=until
    )
    viewers = (
        StreamViewer.objects.filter(stream_id=OuterRef("pk")).values("stream_id").annotate(n=Count("pk")).values("n")
    )
    rows = (
        Stream.objects.filter(Q(host_id=host_id) & (started | Q(pk__in=list(also_ids))))
        .annotate(unique_viewers=Coalesce(Subquery(viewers), 0))
        .order_by("started_at", "pk")
        .values_list("pk", "title", "status", "started_at", "ended_at", "peak_viewers", "unique_viewers")
    )
    return [HostedStream(*row) for row in rows]


# --- The same rules as SQL, for one-statement writes of other apps (the gift send) -------------


def stream_sql() -> str:
    """The streams as a SQL row source (columns id, host_id, status, gifting_paused_at), for a
    statement that checks them in the database."""
    return f"(SELECT id, host_id, status, gifting_paused_at FROM {Stream._meta.db_table})"  # noqa: S608


def stream_gifting_open_sql(stream: str) -> str:
    """`not StreamHost.gifting_paused` as a SQL condition on a row of `stream_sql()` aliased `stream`."""
    return f"{stream}.gifting_paused_at IS NULL"


def stream_is_live_sql(stream: str) -> str:
    """`Stream.is_live` as a SQL condition on a row of `stream_sql()` aliased `stream`."""
    return f"{stream}.status = '{Stream.Status.LIVE.value}'"


# --- Room moderators ----------------------------------------------------------------------------

ROOM_MODERATORS_CACHE_KEY = "live:room-moderators:v1:{host_id}"
ROOM_MODERATORS_CACHE_SECONDS = 600


def room_moderator_list(*, host_id: int) -> QuerySet[RoomModerator]:
    """The host's room moderators with their users (newest first by the list's cursor)."""
    return RoomModerator.objects.filter(host_id=host_id).select_related("moderator")


def host_moderator_ids(*, host_id: int) -> frozenset[int]:
    """The ids of the host's room moderators, from the cache (one round trip; cleared by the services
    that appoint and remove them, after commit)."""
    key = ROOM_MODERATORS_CACHE_KEY.format(host_id=host_id)
    cached = cache.get(key)
    if cached is not None:
        return frozenset(cached)
    ids = list(RoomModerator.objects.filter(host_id=host_id).values_list("moderator_id", flat=True))
    cache.set(key, ids, ROOM_MODERATORS_CACHE_SECONDS)
    return frozenset(ids)


def stream_moderator_is(*, stream_id: int, user_id: int) -> bool:
    """Whether the user is a room moderator of the stream's host (read from the database: the check
    every moderator action makes). The host is not a moderator of their own rooms."""
    return RoomModerator.objects.filter(
        host_id=Subquery(Stream.objects.filter(pk=stream_id).values("host_id")[:1]), moderator_id=user_id
    ).exists()


def stream_moderator_is_cached(*, host_id: int, user_id: int) -> bool:
    """The cheap form for a room connect that already knows the stream's host: no database query
    once the host's moderators are cached (up to a moment stale after a change; every action
    re-checks with stream_moderator_is)."""
    return user_id in host_moderator_ids(host_id=host_id)


# --- Scheduled streams ----------------------------------------------------------------------------


def _schedules_annotated(viewer: User | None) -> QuerySet[ScheduledStream]:
    schedules = ScheduledStream.objects.select_related("host").annotate(
        subscribers_count=Count("subscriptions", distinct=True)
    )
    if viewer is None:
        return schedules.annotate(subscribed=Value(False))
    return schedules.annotate(
        subscribed=Exists(ScheduleSubscription.objects.filter(schedule_id=OuterRef("pk"), user_id=viewer.pk))
    )


def schedule_list_upcoming(
    *, viewer: User, host_id: int | None = None, following: bool = False
) -> QuerySet[ScheduledStream]:
    """Schedules still to start (not cancelled, not started, not past their no-show time), of one
    host or of the hosts the viewer follows, never of a host either side blocked; soonest first by
    the list's cursor."""
    no_show = timedelta(minutes=settings.LIVE_SCHEDULE_NO_SHOW_MINUTES)
    schedules = (
        _schedules_annotated(viewer)
        .filter(cancelled_at__isnull=True, stream__isnull=True, starts_at__gt=timezone.now() - no_show)
        .exclude(host_id__in=blocked_user_ids(user=viewer))
    )
    if host_id is not None:
        schedules = schedules.filter(host_id=host_id)
    if following:
        schedules = schedules.filter(host_id__in=following_ids(user=viewer))
    return schedules


def schedule_list_mine(*, host: User) -> QuerySet[ScheduledStream]:
    """All of the host's schedules, started, missed and cancelled ones too (latest start first by the
    list's cursor)."""
    return _schedules_annotated(host).filter(host_id=host.pk)


def schedule_get(*, schedule_id: int, viewer: User) -> ScheduledStream:
    schedule = (
        _schedules_annotated(viewer).filter(pk=schedule_id).exclude(host_id__in=blocked_user_ids(user=viewer)).first()
    )
    if schedule is None:
        raise NotFound(gettext_lazy("No such scheduled stream."))
    return schedule


def schedule_subscriber_ids(*, schedule: ScheduledStream) -> list[int]:
    """Who to remind: the subscribers still active and not blocked either way with the host."""
    blocked = blocked_user_ids(user=schedule.host)
    return list(
        ScheduleSubscription.objects.filter(schedule_id=schedule.pk, user__is_active=True)
        .exclude(user_id__in=blocked)
        .values_list("user_id", flat=True)
    )
