"""Django's Redis cache with one reusable client per connection pool.

Django's RedisCacheClient builds a new redis.Redis for every cache call; its constructor fills a
table of ~200 response callbacks each time, which cost ~0.3 ms of CPU per call (several per API
request: revoked-token check, throttles, catalogue). redis.Redis is thread-safe, so one per pool is
enough.
"""

from collections.abc import Sequence
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient, RedisSerializer


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
        self._scripts: dict[str, Any] = {}

    def script_run(self, source: str, *, keys: Sequence[str], args: Sequence[int | str] = ()) -> Any:
        """Run a Lua script on the cache's keys (named as the cache API names them) in one round trip:
        for the few places that gather facts the cache API would fetch in several. EVALSHA, loading
        the script only when Redis does not know it yet (redis-py's Script)."""
        client = self._cache.get_client(write=True)  # type: ignore[attr-defined]
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = client.register_script(source)
        return script(keys=[self.make_and_validate_key(key) for key in keys], args=list(args), client=client)

    def value_decode(self, raw: bytes | None) -> Any:
        """A value as the cache API would return it (integers raw, the rest pickled), None for a miss."""
        return None if raw is None else self._cache._serializer.loads(raw)  # type: ignore[attr-defined]

    def client_and_key(self, key: str) -> tuple[Any, str]:
        """The redis-py client for `key` and the key as stored, for the few commands the cache API
        lacks (apps.core.counters.fixed_window_incr)."""
        full_key = self.make_and_validate_key(key)
        return self._cache.get_client(full_key, write=True), full_key  # type: ignore[attr-defined]

    def clear(self) -> None:
        """Delete this deployment's keys only (KEY_PREFIX), not the whole Redis database that other
        deployments may share (Django's clear() is FLUSHDB)."""
        client = self._cache.get_client(write=True)  # type: ignore[attr-defined]
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{self.key_prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)

    def add_for_ms(self, key: str, milliseconds: int) -> bool:
        """Set the key for `milliseconds` unless it exists (SET NX PX): True for the first caller of
        each such span. Django's add() counts whole seconds."""
        client, full_key = self.client_and_key(key)
        return bool(client.set(full_key, 1, px=milliseconds, nx=True))


_serializer = RedisSerializer()


def cache_key_stored(key: str) -> str:
    """`key` as the default cache stores it in Redis (prefix and version), for code that reads cache
    entries together with its own keys in one Redis round trip (apps.live.room_join)."""
    return caches["default"].make_key(key)


def cache_value_loads(data: bytes | None) -> Any:
    """A cache entry's value from its stored bytes (None: no entry), as the default cache reads it."""
    return None if data is None else _serializer.loads(data)
