"""The house's one fixed-window counter: rate limits, offence counts, anything that counts events per
key over a window of N seconds.

    from apps.core.counters import fixed_window_incr
    count, seconds_left = fixed_window_incr(f"login:{address}", 60)
    if count > limit: ...

Use it instead of `cache.add(key, 0, timeout)` + `cache.incr(key)`: that pair races the expiry (the
key can expire between the two calls, and Redis's INCR then creates a counter that never expires: a
user throttled or muted for good).
"""

import math
import time

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache

from apps.core.cache import ReusingRedisCache


def fixed_window_incr(key: str, seconds: int, *, cache: BaseCache | None = None) -> tuple[int, int]:
    """Count one event under `key` in a window of `seconds`.

    Returns (events counted in the window, this one included; seconds the window has left).

    Redis: the window opens with the key's first event. INCR, then EXPIRE NX, in one round trip:
    EXPIRE NX sets an expiry only where the key has none, so a counter that somehow lost its
    expiry gets one at its next event and every window ends.
    Other caches (the embedded default's): the window is the current multiple of `seconds` on the
    clock, named in the key, so it ends on time even where incr() rewrites the expiry (a file or
    database cache does); their incr() is not atomic across processes, which a demo can live with.
    """
    cache = _backend(cache)
    if isinstance(cache, ReusingRedisCache):
        client, full_key = cache.client_and_key(key)
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, seconds, nx=True)
        pipe.ttl(full_key)
        count, _, ttl = pipe.execute()
        return int(count), max(int(ttl), 0)
    now = time.time()
    window = int(now // seconds)
    window_key, left = f"{key}:{window}", max(1, math.ceil((window + 1) * seconds - now))
    while True:
        if cache.add(window_key, 1, timeout=left + 1):
            return 1, left
        try:
            return int(cache.incr(window_key)), left
        except ValueError:  # evicted between add() and incr(): count again
            continue


def _backend(cache: object | None) -> BaseCache:
    """The cache backend itself: `django.core.cache.cache` is a proxy that isinstance cannot see through."""
    if cache is None or not isinstance(cache, BaseCache):
        return caches[DEFAULT_CACHE_ALIAS]
    return cache
