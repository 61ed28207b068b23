import io
import os
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from PIL import Image


@pytest.fixture(autouse=True)
def _clean_cache():
    """Like the suite's, but only Django's keys: a FLUSHDB would also drop Celery's queue bindings in
    the same Redis database and strand the real worker's tasks."""
    backend = getattr(cache, "_cache", None)
    if backend is not None and hasattr(backend, "get_client"):
        client = backend.get_client(write=True)
        keys = list(client.scan_iter(match=cache.make_key("*"), count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = str(_session_media(tmp_path_factory))


def _session_media(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "moderation-media"


def image_bytes(path_or_image, fmt: str = "JPEG", **save_args) -> bytes:
    image = path_or_image if isinstance(path_or_image, Image.Image) else Image.open(path_or_image)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format=fmt, **save_args)
    return buf.getvalue()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker (its own process, prefork) on the test database and this Redis database."""
    from tests.moderation.worker import CeleryWorker

    media = _session_media(tmp_path_factory)
    media.mkdir(parents=True, exist_ok=True)
    worker = CeleryWorker(
        media_root=str(media),
        log_path=str(tmp_path_factory.getbasetemp() / "celery-worker.log"),
        concurrency=int(os.environ.get("BENCH_CONCURRENCY", "1")),  # the benchmark's knob; tests use one child
    )
    yield worker
    worker.stop()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        # PostgreSQL drops a dead client's backend a moment later: wait so the test database can be dropped.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.2)


@pytest.fixture
def not_eager():
    """Send tasks to the broker for real (deploy/bin/test runs everything else eagerly)."""
    from halobuzz.celery import app

    # The conf is read from Django settings with the CELERY_ namespace, and the prefixed key wins on
    # lookup: assigning `app.conf.task_always_eager` alone leaves tasks eager (they then ran in the
    # test process, in the uploading thread, and no task ever reached the worker).
    key = "CELERY_TASK_ALWAYS_EAGER"
    before = app.conf.task_always_eager
    app.conf[key] = app.conf.task_always_eager = False
    assert not app.conf.task_always_eager
    yield
    app.conf[key] = app.conf.task_always_eager = before
