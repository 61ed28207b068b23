"""Cheap view and share counting: Redis increments now, one database write per reel per flush.

A view or share is an HINCRBY on `reels:counts:<id>` plus an SADD of the id to `reels:dirty`, in
one MULTI so a flush never sees one without the other. The beat task `reels.counters_flush`
reads each dirty reel's hash, adds it to the row (and re-ranks the reel), and only after that
commits subtracts what it wrote: increments that arrived meanwhile stay for the next flush, and
a crash before the subtraction can at worst count a batch twice, never lose it.

Without Redis (the embedded default) there is one process and no beat: counts go straight to the
database.
"""

import logging
from functools import lru_cache
from typing import cast

import redis
from django.conf import settings

from apps.core.redis_keys import deployment_key

logger = logging.getLogger(__name__)

DIRTY_KEY = "reels:dirty"
COUNTS_KEY = "reels:counts:{reel_id}"
VIEWED_KEY = "reels:viewed:{reel_id}:{user_id}"
FLUSH_LOCK_KEY = "reels:flush:lock"
FIELDS = ("views", "shares")

# Subtract what was flushed; when nothing is left, forget the hash and the dirty mark. Atomic with
# respect to the MULTI of counter_incr, so an increment is never dropped from the dirty set.
_SETTLE = """
local key = KEYS[1]
for i = 1, #ARGV - 1, 2 do
  redis.call('HINCRBY', key, ARGV[i], 0 - tonumber(ARGV[i + 1]))
end
local left = 0
for _, value in ipairs(redis.call('HVALS', key)) do
  if tonumber(value) ~= 0 then left = 1 end
end
if left == 0 then
  redis.call('DEL', key)
  redis.call('SREM', KEYS[2], ARGV[#ARGV])
end
return left
"""


def redis_enabled() -> bool:
    return bool(settings.REDIS_URL)


@lru_cache(maxsize=1)
def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def counter_incr(*, reel_id: int, field: str, amount: int = 1) -> None:
    assert field in FIELDS
    pipe = client().pipeline(transaction=True)
    pipe.hincrby(deployment_key(COUNTS_KEY.format(reel_id=reel_id)), field, amount)
    pipe.sadd(deployment_key(DIRTY_KEY), reel_id)
    pipe.execute()


def mark_dirty(*, reel_id: int) -> None:
    """Ask the next flush to re-rank a reel whose likes or comments changed."""
    client().sadd(deployment_key(DIRTY_KEY), reel_id)


def view_first_in_window(*, reel_id: int, user_id: int) -> bool:
    """True the first time this user views this reel within REELS_VIEW_DEDUPE_SECONDS."""
    key = deployment_key(VIEWED_KEY.format(reel_id=reel_id, user_id=user_id))
    return bool(client().set(key, 1, nx=True, ex=settings.REELS_VIEW_DEDUPE_SECONDS))


def dirty_batch(*, size: int) -> dict[int, dict[str, int]]:
    """Up to `size` dirty reels with their pending increments (possibly all zero: a re-rank only)."""
    conn = client()
    ids = [int(raw) for raw in conn.srandmember(deployment_key(DIRTY_KEY), size) or []]
    pipe = conn.pipeline(transaction=False)
    for reel_id in ids:
        pipe.hgetall(deployment_key(COUNTS_KEY.format(reel_id=reel_id)))
    batch = {}
    for reel_id, raw in zip(ids, pipe.execute(), strict=True):
        counts = {field.decode(): int(value) for field, value in raw.items()}
        batch[reel_id] = {field: counts.get(field, 0) for field in FIELDS}
    return batch


def settle(*, reel_id: int, flushed: dict[str, int]) -> None:
    """After the database commit: take the flushed amounts off the pending hash."""
    args: list = []
    for field, amount in flushed.items():
        if amount:
            args += [field, amount]
    keys = (deployment_key(COUNTS_KEY.format(reel_id=reel_id)), deployment_key(DIRTY_KEY))
    client().eval(_SETTLE, 2, *keys, *args, str(reel_id))


def flush_lock(*, seconds: int = 120) -> bool:
    return bool(client().set(deployment_key(FLUSH_LOCK_KEY), 1, nx=True, ex=seconds))


def flush_unlock() -> None:
    client().delete(deployment_key(FLUSH_LOCK_KEY))


def pending(*, reel_id: int) -> dict[str, int]:
    # redis-py types every command for its async client too (Awaitable | Any): this one is synchronous.
    raw = cast(dict[bytes, bytes], client().hgetall(deployment_key(COUNTS_KEY.format(reel_id=reel_id))))
    counts = {field.decode(): int(value) for field, value in raw.items()}
    return {field: counts.get(field, 0) for field in FIELDS}
