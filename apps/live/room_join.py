"""Joining a stream room without PostgreSQL in the common case.

A room connect checks the access token's signature and expiry statelessly (JwtAuthMiddleware), then
reads everything else in ONE Redis round trip (a script):

- the token's revocation (logout) and its user's token generation (ban, password change,
  logout-everywhere), and the user's card (name, avatar, language, active, banned): accounts'
  cache entries (apps.accounts.tokens);
- the stream's facts: a hash `live:facts:<stream id>` (in the cache's key space) with the room
  state the welcome shows (status, host, chat mode, pinned message, open LinkCast) in field `room`,
  and one field per user the room refuses or mutes: `k:<id>` kicked, `b:<id>` blocked either way
  with the host, `m:<id>` muted (until when), `r:<id>` one of the host's room moderators. The
  script asks for the joining user's four fields only (HMGET).

What is missing is read from PostgreSQL once and cached again: a card from the user's row, the
facts from the stream's rows (one fill per process at a time, however many sockets wait for it).
Facts live LIVE_ROOM_FACTS_SECONDS; every service that changes them forgets them after commit
(`stream_facts_forget`), which also bumps `live:facts_version:<stream id>`: a fill only stores what
it read if that version is still the one it saw before reading the rows, so a fill racing a kick or
an end never puts the old facts back.

Without Redis (the embedded default) the same checks read the database (apps.live.selectors.room_access).
"""

import asyncio
import json
import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from apps.accounts.channels_auth import user_for_access_token
from apps.accounts.models import User
from apps.accounts.selectors import blocked_user_ids
from apps.accounts.tokens import (
    UserCard,
    access_allowed,
    access_cache_keys,
    card_current,
    user_card_load,
)
from apps.core.cache import ReusingRedisCache, cache_key_stored, cache_value_loads
from apps.core.exceptions import DomainError, NotFound
from apps.live.exceptions import KickedFromStream, NotAuthenticated, StreamBlocked, StreamNotLive
from apps.live.models import Stream, StreamKick, StreamMute
from apps.live.script_batch import BatchedScript
from apps.live.selectors import (
    RoomAccess,
    host_moderator_ids,
    linkcast_open_for_stream,
    linkcast_public,
    room_access,
    stream_room_state,
)

logger = logging.getLogger(__name__)

FACTS_KEY = "live:facts:{stream_id}"
FACTS_VERSION_KEY = "live:facts_version:{stream_id}"
VERSION_SECONDS = 24 * 3600  # outlives any facts; an expired version only means "no change seen"

# KEYS: the facts hash, its version. ARGV: the version the filler saw before reading the rows ("" for
# none), the facts' lifetime in seconds, then field, value, field, value...
_FILL_SCRIPT = """
local seen = redis.call('GET', KEYS[2]) or ''
if seen ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""


# The join's one round trip, as one command (a script costs the client one command to write and
# read; a pipeline of five costs five). KEYS: the token's revocation, the user's generation, the
# user's card, the stream's facts, their version. ARGV: the user's kick, block, mute and moderator fields.
_ACCESS_SCRIPT = """
local facts = redis.call('HMGET', KEYS[4], 'room', ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return {redis.call('EXISTS', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3]),
        facts[1], facts[2], facts[3], facts[4], facts[5], redis.call('GET', KEYS[5])}
"""


@dataclass(frozen=True)
class JoinResult:
    """What a connect learnt: the room access, or the refusal; the user's card when it was read
    (its saved language words the refusal)."""

    access: RoomAccess | None
    error: DomainError | None
    language: str = ""
    is_staff: bool = False


# --- The facts, from the database -----------------------------------------------------------------


def stream_facts_load(*, stream_id: int) -> dict[str, str] | None:
    """The stream's facts as the hash stores them, read from its rows; None when there is no such stream."""
    stream = Stream.objects.select_related("host").filter(pk=stream_id).first()
    if stream is None:
        return None
    linkcast = linkcast_open_for_stream(stream_id=stream.pk)
    room = {
        "host_id": stream.host_id,
        "status": stream.status,
        "stream": stream_room_state(stream),
        "linkcast": linkcast_public(linkcast) if linkcast else None,
    }
    fields = {"room": json.dumps(room)}
    now = timezone.now()
    for user_id in StreamKick.objects.filter(stream_id=stream.pk).values_list("user_id", flat=True):
        fields[f"k:{user_id}"] = "1"
    for user_id, until in StreamMute.objects.filter(stream_id=stream.pk).values_list("user_id", "muted_until"):
        if until is None or until > now:
            fields[f"m:{user_id}"] = until.isoformat() if until else ""
    for user_id in blocked_user_ids(user=stream.host):
        fields[f"b:{user_id}"] = "1"
    for user_id in host_moderator_ids(host_id=stream.host_id):
        fields[f"r:{user_id}"] = "1"
    return fields


def stream_facts_forget(*, stream_ids: Iterable[int]) -> None:
    """These streams' facts changed (status, chat settings, pin, LinkCast, kicks, mutes, blocks,
    the host's profile): after commit, the next join reads them from the database."""
    ids = sorted(set(stream_ids))
    if ids and isinstance(caches["default"], ReusingRedisCache):
        transaction.on_commit(partial(_facts_drop, ids))


def _facts_drop(stream_ids: list[int]) -> None:
    backend = caches["default"]
    assert isinstance(backend, ReusingRedisCache)
    try:
        client, _ = backend.client_and_key(FACTS_KEY.format(stream_id=stream_ids[0]))
        with client.pipeline(transaction=False) as pipe:
            for stream_id in stream_ids:
                version = cache_key_stored(FACTS_VERSION_KEY.format(stream_id=stream_id))
                pipe.incr(version)
                pipe.expire(version, VERSION_SECONDS)
                pipe.delete(cache_key_stored(FACTS_KEY.format(stream_id=stream_id)))
            pipe.execute()
    except Exception:  # Redis away: the facts expire within LIVE_ROOM_FACTS_SECONDS
        logger.exception("room facts not forgotten", extra={"stream_ids": stream_ids})


# --- The decision ------------------------------------------------------------------------------


def _access(
    room: dict[str, Any], *, card: UserCard, kicked: bool, blocked: bool, muted: str | None, moderator: bool
) -> RoomAccess:
    """The same refusals as selectors.room_access, from the cached facts (the account was checked)."""
    is_host = room["host_id"] == card.id
    if is_host:
        if room["status"] not in Stream.ACTIVE_STATUSES:
            raise StreamNotLive()
    else:
        if room["status"] != Stream.Status.LIVE:
            raise StreamNotLive()
        if blocked:
            raise StreamBlocked()
        if kicked:
            raise KickedFromStream()
    until = datetime.fromisoformat(muted) if muted else None
    is_muted = not is_host and muted is not None and (until is None or until > timezone.now())
    return RoomAccess(
        stream=room["stream"],
        role="host" if is_host else "moderator" if moderator else "viewer",
        user=card.brief(),
        # Only followers-only chat asks, and ChatRules looks it up then (the chat may change mode later anyway).
        follows_host=is_host,
        is_og=None,  # likewise asked by ChatRules when the chat is OG-only
        muted=is_muted,
        muted_until=until if is_muted else None,
        linkcast=room["linkcast"],
    )


# --- The connect -------------------------------------------------------------------------------

# A redis.asyncio client belongs to one event loop (daphne has one). Bytes, not text: cache entries are pickled.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()
# Fills in flight in this process, by stream: the sockets that find no facts meanwhile wait for the same read.
_fills: dict[int, "asyncio.Task[dict[str, str] | None]"] = {}


def _client() -> Any:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        import redis.asyncio as redis

        client = _clients[loop] = redis.Redis.from_url(settings.REDIS_URL)
        client.fill_script = client.register_script(_FILL_SCRIPT)
        client.access_script = BatchedScript(client, _ACCESS_SCRIPT)  # a burst of connects: one pipeline
    return client


async def _facts_fill(stream_id: int, version: bytes | None) -> dict[str, str] | None:
    """The stream's facts read from the database and stored (unless they changed meanwhile). The
    sockets of this process that find no facts while a fill runs wait for it: one read per room."""
    loop = asyncio.get_running_loop()
    task = _fills.get(stream_id)
    if task is None or task.get_loop() is not loop:
        task = _fills[stream_id] = loop.create_task(_facts_read_and_store(stream_id, version))
        task.add_done_callback(partial(_fill_done, stream_id))
    # Shielded: a socket that goes away while waiting does not cancel the others' fill.
    return await asyncio.shield(task)


def _fill_done(stream_id: int, task: "asyncio.Task[dict[str, str] | None]") -> None:
    if _fills.get(stream_id) is task:
        del _fills[stream_id]
    if not task.cancelled():
        task.exception()  # retrieved: the waiters raise it themselves


async def _facts_read_and_store(stream_id: int, version: bytes | None) -> dict[str, str] | None:
    fields = await database_sync_to_async(stream_facts_load, thread_sensitive=False)(stream_id=stream_id)
    if fields is not None:
        keys = [
            cache_key_stored(FACTS_KEY.format(stream_id=stream_id)),
            cache_key_stored(FACTS_VERSION_KEY.format(stream_id=stream_id)),
        ]
        flat = [item for pair in fields.items() for item in pair]
        await _client().fill_script(keys=keys, args=[version or b"", settings.LIVE_ROOM_FACTS_SECONDS, *flat])
    return fields


async def room_join(*, token: Any, stream_id: int) -> JoinResult:
    """Check a room connect: the token's user may join the stream, as host or viewer. With Redis,
    one round trip when the user's card and the stream's facts are cached (no SQL)."""
    if not settings.REDIS_URL:
        return await database_sync_to_async(_room_join_from_db, thread_sensitive=False)(
            token=token, stream_id=stream_id
        )
    user_id = int(token.get(jwt_settings.USER_ID_CLAIM))
    revoked_key, generation_key, card_key = (cache_key_stored(key) for key in access_cache_keys(token))
    facts_key = cache_key_stored(FACTS_KEY.format(stream_id=stream_id))
    version_key = cache_key_stored(FACTS_VERSION_KEY.format(stream_id=stream_id))
    keys = [revoked_key, generation_key, card_key, facts_key, version_key]
    user_fields = [f"k:{user_id}", f"b:{user_id}", f"m:{user_id}", f"r:{user_id}"]
    revoked, generation, card_raw, room_raw, kicked, blocked, muted, moderator, version = await _client().access_script(
        keys=keys, args=user_fields
    )
    generation = cache_value_loads(generation)
    card = UserCard.from_cached(cache_value_loads(card_raw))
    if not revoked and not card_current(card, generation):
        card = await database_sync_to_async(user_card_load, thread_sensitive=False)(user_id=user_id)
    language = card.language if card is not None else ""
    if not access_allowed(token, revoked=bool(revoked), generation=generation, card=card):
        return JoinResult(access=None, error=NotAuthenticated(), language=language)
    assert card is not None
    if room_raw is None:
        fields = await _facts_fill(stream_id, version)
        if fields is None:
            return JoinResult(access=None, error=NotFound(gettext_lazy("No such stream.")), language=language)
        room_raw = fields["room"]
        kicked, blocked, muted, moderator = (fields.get(f"{kind}:{user_id}") for kind in "kbmr")
    try:
        access = _access(
            json.loads(room_raw),
            card=card,
            kicked=kicked is not None,
            blocked=blocked is not None,
            muted=None if muted is None else (muted.decode() if isinstance(muted, bytes) else muted),
            moderator=moderator is not None,
        )
    except DomainError as exc:
        return JoinResult(access=None, error=exc, language=language)
    return JoinResult(access=access, error=None, language=language, is_staff=card.is_staff)


def _room_join_from_db(*, token: Any, stream_id: int) -> JoinResult:
    user = user_for_access_token(token)
    language = getattr(user, "language", "")
    try:
        if not isinstance(user, User):
            raise NotAuthenticated()
        access = room_access(stream_id=stream_id, user=user)
    except DomainError as exc:
        return JoinResult(access=None, error=exc, language=language)
    return JoinResult(access=access, error=None, language=language, is_staff=user.is_staff)
