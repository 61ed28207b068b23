"""The house's one fixed-window counter: rate limits, offence counts, anything that counts events per
key over a window of N seconds that opens with the key's first event.

    from apps.core.counters import fixed_window_incr
    count, seconds_left = fixed_window_incr(f"login:{address}", 60)
    if count > limit: ...

Use it instead of `cache.add(key, 0, timeout)` + `cache.incr(key)`: that pair races the expiry (the
key can expire between the two calls, and Redis's INCR then creates a counter that never expires: a
user throttled or muted for good).
"""

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache

from apps.core.cache import ReusingRedisCache


def fixed_window_incr(key: str, seconds: int, *, cache: BaseCache | None = None) -> tuple[int, int]:
    """Count one event under `key` in a window of `seconds` that opens with the key's first event.

    Returns (events counted in the window, this one included; seconds the window has left).

    Redis: INCR, then EXPIRE NX, in one round trip. EXPIRE NX sets an expiry only where the key has
    none, so a counter that somehow lost its expiry gets one at its next event and every window ends.
    Other caches (locmem: the embedded default, one process): add() opens the window and incr()
    keeps its expiry; they do not tell the time left, so `seconds` is returned (an upper bound).
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
    while True:
        if cache.add(key, 1, timeout=seconds):
            return 1, seconds
        try:
            return int(cache.incr(key)), seconds
        except ValueError:  # the window ended between add() and incr(): open the next one
            continue


def _backend(cache: object | None) -> BaseCache:
    """The cache backend itself: `django.core.cache.cache` is a proxy that isinstance cannot see through."""
    if cache is None or not isinstance(cache, BaseCache):
        return caches[DEFAULT_CACHE_ALIAS]
    return cache
