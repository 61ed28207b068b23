"""Shared, short-lived state of stream rooms: presence, likes, chat limits, chat history, tick locks.

In production it lives in Redis so that every daphne process sees the same room: presence is a
sorted set of viewer ids scored by the last time their process vouched for them, so the viewers of
a process that dies expire on their own after LIVE_PRESENCE_TTL_SECONDS. On the embedded default
(one process, no Redis) a dictionary stands in with the same semantics.

Every function is async and called from the room consumer and its per-process ticker.
"""

import asyncio
import json
import time
import weakref
from typing import Any

from django.conf import settings

from apps.core.redis_keys import deployment_key
from apps.live.script_batch import BatchedScript

KEY_TTL = 24 * 3600  # room keys outlive any stream's activity, then vanish
VIEWERS_SAVED = "viewers_saved"  # the viewer count last stored on the stream (value_swap key after the stream id)


# KEYS: presence, likes total, history. ARGV: the viewer's id ("" for the host), now, the oldest
# presence still counted, the keys' lifetime.
WELCOME_SCRIPT = """
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
return {redis.call('ZCARD', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('LRANGE', KEYS[3], 0, -1)}
"""


def _k(stream_id: int, name: str) -> str:
    return deployment_key(f"live:{stream_id}:{name}")


class RedisRoomState:
    def __init__(self, url: str):
        import redis.asyncio as redis

        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.welcome_script = BatchedScript(self.redis, WELCOME_SCRIPT)  # a burst of connects: one pipeline

    async def presence_touch(self, stream_id: int, user_ids: list[int]) -> None:
        if not user_ids:
            return
        key = _k(stream_id, "presence")
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, dict.fromkeys((str(u) for u in user_ids), now))
            pipe.expire(key, KEY_TTL)
            await pipe.execute()

    async def presence_remove(self, stream_id: int, user_id: int) -> None:
        await self.redis.zrem(_k(stream_id, "presence"), str(user_id))

    async def welcome(self, stream_id: int, user_id: int | None) -> tuple[int, int, list[dict[str, Any]]]:
        """On connect, in one round trip (one script: one command for the client to write and read):
        mark the viewer present (None: the host), then the viewer count, the likes total and the
        recent chat."""
        now = time.time()
        count, likes, history = await self.welcome_script(
            keys=[_k(stream_id, "presence"), _k(stream_id, "likes_total"), _k(stream_id, "history")],
            args=["" if user_id is None else str(user_id), now, now - settings.LIVE_PRESENCE_TTL_SECONDS, KEY_TTL],
        )
        return int(count), int(likes or 0), [json.loads(item) for item in history]

    async def presence_count(self, stream_id: int) -> int:
        key = _k(stream_id, "presence")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", time.time() - settings.LIVE_PRESENCE_TTL_SECONDS)
            pipe.zcard(key)
            _, count = await pipe.execute()
        return int(count)

    async def likes_add(self, stream_id: int, count: int) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incrby(_k(stream_id, "likes_pending"), count)
            pipe.incrby(_k(stream_id, "likes_total"), count)
            pipe.expire(_k(stream_id, "likes_pending"), KEY_TTL)
            pipe.expire(_k(stream_id, "likes_total"), KEY_TTL)
            await pipe.execute()

    async def likes_take(self, stream_id: int) -> tuple[int, int]:
        """Pending likes since the last take (reset to 0) and the running total."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.getdel(_k(stream_id, "likes_pending"))
            pipe.get(_k(stream_id, "likes_total"))
            pending, total = await pipe.execute()
        return int(pending or 0), int(total or 0)

    async def likes_total(self, stream_id: int) -> int:
        return int(await self.redis.get(_k(stream_id, "likes_total")) or 0)

    async def lock_try(self, name: str, ms: int) -> bool:
        """True for exactly one caller (across processes) per `ms` window."""
        return bool(await self.redis.set(deployment_key(f"live:lock:{name}"), "1", nx=True, px=max(1, ms)))

    async def value_swap(self, key: str, value: int) -> int | None:
        old = await self.redis.set(deployment_key(f"live:{key}"), value, get=True, ex=KEY_TTL)
        return None if old is None else int(old)

    async def hits(self, key: str, window_seconds: int) -> tuple[int, float]:
        """Count a hit in a fixed window: the hits so far in this window and the seconds it has left."""
        full = deployment_key(f"live:hits:{key}")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(full)
            pipe.expire(full, window_seconds, nx=True)
            pipe.pttl(full)
            count, _, ttl_ms = await pipe.execute()
        return int(count), max(int(ttl_ms), 1) / 1000

    async def chat_hit(self, stream_id: int, user_id: int, window_seconds: int) -> tuple[int, float, bool]:
        """A chat message's one round trip: `hits` of the user's chat counter, and whether the user's
        chat in this room was refused since their socket joined (chat_refusals_set)."""
        full = deployment_key(f"live:hits:chat:{stream_id}:{user_id}")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(full)
            pipe.expire(full, window_seconds, nx=True)
            pipe.pttl(full)
            pipe.exists(_k(stream_id, f"refused:{user_id}"))
            count, _, ttl_ms, refused = await pipe.execute()
        return int(count), max(int(ttl_ms), 1) / 1000, bool(refused)

    async def slow_mode_pass(self, stream_id: int, user_id: int, seconds: int) -> float:
        """0 when the user may post now (and starts their wait), else seconds left to wait."""
        key = _k(stream_id, f"slow:{user_id}")
        if await self.redis.set(key, "1", nx=True, ex=seconds):
            return 0.0
        ttl = await self.redis.pttl(key)
        return max(ttl, 1) / 1000

    async def history_push(self, stream_id: int, event: dict[str, Any]) -> None:
        key = _k(stream_id, "history")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, json.dumps(event))
            pipe.ltrim(key, -settings.LIVE_CHAT_HISTORY, -1)
            pipe.expire(key, KEY_TTL)
            await pipe.execute()

    async def history_get(self, stream_id: int) -> list[dict[str, Any]]:
        return [json.loads(item) for item in await self.redis.lrange(_k(stream_id, "history"), 0, -1)]

    async def history_remove(self, stream_id: int, message_id: str) -> dict[str, Any] | None:
        """Take a message out of the recent history (a deleted message); the message, or None when
        it is no longer there."""
        key = _k(stream_id, "history")
        for raw in await self.redis.lrange(key, 0, -1):
            message = json.loads(raw)
            if message.get("id") == message_id:
                await self.redis.lrem(key, 0, raw)
                return message
        return None


class MemoryRoomState:
    """One-process stand-in for the embedded default (the in-memory channel layer is one process too)."""

    def __init__(self) -> None:
        self.presence: dict[int, dict[int, float]] = {}
        self.counters: dict[str, int] = {}
        self.expiring: dict[str, float] = {}
        self.values: dict[str, int] = {}
        self.history: dict[int, list[dict[str, Any]]] = {}

    def _alive(self, key: str) -> bool:
        until = self.expiring.get(key)
        if until is not None and until <= time.monotonic():
            self.expiring.pop(key, None)
            self.counters.pop(key, None)
            return False
        return until is not None

    async def presence_touch(self, stream_id: int, user_ids: list[int]) -> None:
        now = time.time()
        room = self.presence.setdefault(stream_id, {})
        for user_id in user_ids:
            room[user_id] = now

    async def presence_remove(self, stream_id: int, user_id: int) -> None:
        self.presence.get(stream_id, {}).pop(user_id, None)

    async def welcome(self, stream_id: int, user_id: int | None) -> tuple[int, int, list[dict[str, Any]]]:
        if user_id is not None:
            await self.presence_touch(stream_id, [user_id])
        return (
            await self.presence_count(stream_id),
            await self.likes_total(stream_id),
            await self.history_get(stream_id),
        )

    async def presence_count(self, stream_id: int) -> int:
        oldest = time.time() - settings.LIVE_PRESENCE_TTL_SECONDS
        room = self.presence.get(stream_id, {})
        for user_id in [u for u, seen in room.items() if seen < oldest]:
            del room[user_id]
        return len(room)

    async def likes_add(self, stream_id: int, count: int) -> None:
        for name in ("likes_pending", "likes_total"):
            self.counters[_k(stream_id, name)] = self.counters.get(_k(stream_id, name), 0) + count

    async def likes_take(self, stream_id: int) -> tuple[int, int]:
        pending = self.counters.pop(_k(stream_id, "likes_pending"), 0)
        return pending, self.counters.get(_k(stream_id, "likes_total"), 0)

    async def likes_total(self, stream_id: int) -> int:
        return self.counters.get(_k(stream_id, "likes_total"), 0)

    async def lock_try(self, name: str, ms: int) -> bool:
        key = f"lock:{name}"
        if self._alive(key):
            return False
        self.expiring[key] = time.monotonic() + ms / 1000
        return True

    async def value_swap(self, key: str, value: int) -> int | None:
        old = self.values.get(key)
        self.values[key] = value
        return old

    async def hits(self, key: str, window_seconds: int) -> tuple[int, float]:
        full = f"hits:{key}"
        if not self._alive(full):
            self.expiring[full] = time.monotonic() + window_seconds
            self.counters[full] = 0
        self.counters[full] += 1
        return self.counters[full], max(self.expiring[full] - time.monotonic(), 0.001)

    async def chat_hit(self, stream_id: int, user_id: int, window_seconds: int) -> tuple[int, float, bool]:
        # Refusals come from other processes through Redis only: here the closing socket is the refusal.
        return (*await self.hits(f"chat:{stream_id}:{user_id}", window_seconds), False)

    async def slow_mode_pass(self, stream_id: int, user_id: int, seconds: int) -> float:
        key = _k(stream_id, f"slow:{user_id}")
        if self._alive(key):
            return max(self.expiring[key] - time.monotonic(), 0.001)
        self.expiring[key] = time.monotonic() + seconds
        return 0.0

    async def history_push(self, stream_id: int, event: dict[str, Any]) -> None:
        items = self.history.setdefault(stream_id, [])
        items.append(event)
        del items[: -settings.LIVE_CHAT_HISTORY]

    async def history_get(self, stream_id: int) -> list[dict[str, Any]]:
        return list(self.history.get(stream_id, []))

    async def history_remove(self, stream_id: int, message_id: str) -> dict[str, Any] | None:
        items = self.history.get(stream_id, [])
        found = next((m for m in items if m.get("id") == message_id), None)
        if found is not None:
            items.remove(found)
        return found


# How long a refusal outlives the sockets it stops: they close within moments of it.
CHAT_REFUSAL_SECONDS = 60


def chat_refusals_set(*, stream_ids: list[int], user_id: int) -> None:
    """From synchronous code (a block): refuse the user's next chat messages in these rooms at once,
    while the layer message that closes their sockets is on its way."""
    if not settings.REDIS_URL or not stream_ids:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        with client.pipeline(transaction=False) as pipe:
            for stream_id in stream_ids:
                pipe.set(_k(stream_id, f"refused:{user_id}"), "1", ex=CHAT_REFUSAL_SECONDS)
            pipe.execute()
    finally:
        client.close()


def chat_history_append(*, stream_id: int, event: dict[str, Any]) -> None:
    """From synchronous code: add a message to the room's recent history (a held message approved)."""
    if not settings.REDIS_URL:
        items = _memory.history.setdefault(stream_id, [])
        items.append(event)
        del items[: -settings.LIVE_CHAT_HISTORY]
        return
    import redis

    key = _k(stream_id, "history")
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.rpush(key, json.dumps(event))
            pipe.ltrim(key, -settings.LIVE_CHAT_HISTORY, -1)
            pipe.expire(key, KEY_TTL)
            pipe.execute()
    finally:
        client.close()


_memory = MemoryRoomState()
# A redis.asyncio client belongs to one event loop: keep one per loop (daphne has one).
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RedisRoomState]" = weakref.WeakKeyDictionary()


def room_state() -> RedisRoomState | MemoryRoomState:
    if not settings.REDIS_URL:
        return _memory
    loop = asyncio.get_running_loop()
    state = _clients.get(loop)
    if state is None:
        state = _clients[loop] = RedisRoomState(settings.REDIS_URL)
    return state
