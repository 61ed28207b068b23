"""The per-user API limit: one Redis counter per user and window, with the error shape and Retry-After;
and the fixed-window counter it counts with (apps.core.counters)."""

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.filebased import FileBasedCache
from django.core.cache.backends.locmem import LocMemCache
from django.test import override_settings

from apps.core.cache import ReusingRedisCache
from apps.core.counters import fixed_window_incr
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error

pytestmark = pytest.mark.django_db


def _rates(user: str) -> dict:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": user},
    }


def test_the_limit_counts_per_user_and_says_when_to_retry(auth_client):
    assert isinstance(caches["default"], ReusingRedisCache), "the tests run against Redis"
    alice, bob = UserFactory(), UserFactory()
    with override_settings(REST_FRAMEWORK=_rates("3/min")):
        # given three requests of Alice's within a minute
        for _ in range(3):
            assert auth_client(alice).get("/api/v1/wallet/").status_code == 200

        # when she makes a fourth, and Bob his first
        refused = auth_client(alice).get("/api/v1/wallet/")
        bob_ok = auth_client(bob).get("/api/v1/wallet/")

    # then only Alice is refused, told to wait at most the rest of the minute
    body = assert_error(refused, 429, "throttled")
    assert 0 < body["details"]["retry_after"] <= 60
    assert refused["Retry-After"] == str(body["details"]["retry_after"])
    assert bob_ok.status_code == 200


def test_the_counter_expires_with_its_window():
    count, left = fixed_window_incr("throttle-test", 30)
    again, _ = fixed_window_incr("throttle-test", 30)
    assert (count, again) == (1, 2)
    assert 0 < left <= 30
    assert cache.get("throttle-test") == 2


def test_a_counter_never_outlives_its_window():
    # given a counter that somehow has no expiry (the race an INCR after SET NX EX would allow)
    cache.set("throttle-race", 5, timeout=None)

    # when it is counted again, then it gets the window's expiry and keeps its count
    count, left = fixed_window_incr("throttle-race", 30)
    assert count == 6
    assert 0 < left <= 30


@pytest.mark.parametrize("backend", [LocMemCache, FileBasedCache])
def test_without_redis_the_counter_counts_in_one_window_and_then_starts_again(backend, tmp_path, monkeypatch):
    # given a cache of the embedded kind (the file cache's incr() rewrites the expiry) and a clock
    memory = backend(str(tmp_path), {}) if backend is FileBasedCache else backend("counter-test", {})
    clock = [60 * 16_000 + 20.0]  # 20 s into a minute
    monkeypatch.setattr("apps.core.counters.time.time", lambda: clock[0])

    # when an event is counted three times within the minute, then once in the next minute
    counts = [fixed_window_incr("k", 60, cache=memory) for _ in range(3)]
    clock[0] += 45
    after = fixed_window_incr("k", 60, cache=memory)

    # then the minute counted 1, 2, 3 with 40 s left, and the next one starts at 1
    assert counts == [(1, 40), (2, 40), (3, 40)]
    assert after == (1, 55)
