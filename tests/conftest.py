"""Fixtures shared by every app's tests.

The suite runs against PostgreSQL and Redis (deploy/bin/test sets DATABASE_URL and REDIS_URL), with
media in buckets on an S3-compatible server the session starts (tests/objectstore.py).
"""

import copy
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from tests.accounts.factories import UserFactory
from tests.rooms import RoomListener
from tests.timestamps import assert_utc_timestamps

# PostgreSQL here allows 100 connections, shared with other test runs: races use at most this many threads.
RACE_MAX_THREADS = 40

# Sync Playwright runs an event loop in the test thread; the ORM must still be usable there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE") or shutil.which("chromium")


@pytest.fixture(scope="session", autouse=True)
def object_store(tmp_path_factory):
    """The S3-compatible server at MEDIA_S3_ENDPOINT_URL (started here when nothing answers) with
    the media buckets made by the project's own command. Nothing with filesystem media."""
    if django_settings.MEDIA_STORAGE != "s3":
        yield None
        return
    from apps.core.storage import media_buckets_ensure
    from tests.objectstore import ObjectStore

    store = ObjectStore(django_settings.MEDIA_S3_ENDPOINT_URL, tmp_path_factory.getbasetemp() / "objectstore.log")
    media_buckets_ensure()
    yield store
    store.stop()


@pytest.fixture
def isolated_media(settings, tmp_path):
    """This test's media (public and private) under a prefix or folder of its own, so what it stored
    can be listed apart from other tests' files. Servers and workers in other processes do not see it."""
    configured = copy.deepcopy(settings.STORAGES)
    prefix = f"tests/{uuid.uuid4().hex}"
    for alias in ("default", "private"):
        options = configured[alias].setdefault("OPTIONS", {})
        options["location"] = prefix if settings.MEDIA_STORAGE == "s3" else str(tmp_path / alias)
    settings.STORAGES = configured
    yield


@pytest.fixture(autouse=True)
def _clean_cache():
    """Throttle counters, revoked tokens and presence live in the cache, leaderboards and room state
    in Redis: each test starts clean. Only this run's keys (REDIS_KEY_PREFIX): other runs may share
    the Redis server."""
    cache.clear()
    if django_settings.REDIS_URL:
        import redis

        with redis.Redis.from_url(django_settings.REDIS_URL) as client:
            keys = list(client.scan_iter(match=f"{django_settings.REDIS_KEY_PREFIX}*", count=1000))
            if keys:
                client.unlink(*keys)
    yield


@pytest.fixture(autouse=True)
def _celery_join_allowed():
    """Eager `apply_async` flips Celery's process-wide "joining would block" flag and restores it after;
    two threads doing so at once (channel consumers and a live server run eager tasks in their own
    threads) can leave it set, and every later `result.get()` in the run then raises "Never call
    result.get() within a task!". Each test starts with it cleared, as a fresh process would."""
    from celery.result import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Full-strength PBKDF2 costs ~0.35 s a hash: tests hash with MD5 (PBKDF2 hashes still verify)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


class TimeCheckedAPIClient(APIClient):
    """An API client that checks every JSON answer for the one time format (tests/timestamps.py)."""

    def request(self, **kwargs):
        response = super().request(**kwargs)
        if (
            response.get("Content-Type", "").startswith("application/json")
            and not response.streaming
            and response.content
        ):
            assert_utc_timestamps(response.json(), f"{kwargs.get('REQUEST_METHOD')} {kwargs.get('PATH_INFO')}")
        return response


@pytest.fixture
def api_client() -> APIClient:
    return TimeCheckedAPIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def auth_client():
    """An API client signed in as the given user with a real JWT access token."""
    from apps.accounts.services import tokens_issue

    def make(user) -> APIClient:
        client = TimeCheckedAPIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_issue(user=user)['access']}")
        return client

    return make


@pytest.fixture
def race() -> Callable[[Sequence[Callable[[], Any]]], list[Any]]:
    """Run the calls at the same moment, as concurrent requests would: threads released together by
    a barrier, each closing its own database connection. Returns each call's result, or the
    exception it raised, in the order of the calls. Use under django_db(transaction=True).

    More calls than RACE_MAX_THREADS are spread over that many threads, each running its share in turn.
    """

    def run(calls: Sequence[Callable[[], Any]]) -> list[Any]:
        threads = min(len(calls), RACE_MAX_THREADS)
        barrier = threading.Barrier(threads)

        def one(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except Exception as exc:  # handed to the test, which asserts on it
                return exc

        def share(indexes: range) -> list[tuple[int, Any]]:
            try:
                barrier.wait()
                return [(i, one(calls[i])) for i in indexes]
            finally:
                connection.close()

        shares = [range(first, len(calls), threads) for first in range(threads)]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = [pair for part in pool.map(share, shares) for pair in part]
        return [result for _, result in sorted(done, key=lambda pair: pair[0])]

    return run


@pytest.fixture
def room_listener() -> Iterator[Callable[..., RoomListener]]:
    """Listen on the real channel layer: `room_listener(stream_group_name(stream.pk), ...)`, then
    `.heard()` (everything so far) or `.heard("pk.score")` gives (group, event type, payload)."""
    listeners: list[RoomListener] = []

    def listen(*groups: str) -> RoomListener:
        listener = RoomListener(list(groups))
        listeners.append(listener)
        return listener.start()

    yield listen
    for listener in listeners:
        listener.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Playwright drives Debian's chromium: no browser is ever downloaded."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: sync Playwright leaves an event loop running in the main thread for
    the rest of the session, which breaks later tests that start their own loop (asyncio.run)."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
