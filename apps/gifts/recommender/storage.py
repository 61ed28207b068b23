"""Where fitted gift models live: a small JSON document per version, stored through Django's
storage API under `gift_recommender/<version>.json` in the private media storage (a bucket in
production); each process loads the newest once, and keeps per-process copies of small shared values.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.files.base import ContentFile

from apps.core.storage import private_storage
from apps.gifts.recommender.model import GiftModel

logger = logging.getLogger(__name__)

MODEL_DIR = "gift_recommender"
ACTIVE_VERSION_CACHE_KEY = "gifts:recommender:active-version"
POPULAR_CACHE_KEY = "gifts:recommender:popular"
CACHE_SECONDS = 300
KEEP_VERSIONS = 10

T = TypeVar("T")


def model_store(model: GiftModel) -> str:
    """Save the model as a new version, keep the newest KEEP_VERSIONS, make it the active one."""
    name = private_storage().save(f"{MODEL_DIR}/{model.version}.json", ContentFile(model.to_json().encode()))
    versions = _stored_versions()
    for old in versions[:-KEEP_VERSIONS]:
        private_storage().delete(f"{MODEL_DIR}/{old}.json")
    cache.set(ACTIVE_VERSION_CACHE_KEY, model.version, CACHE_SECONDS)
    cache.delete(POPULAR_CACHE_KEY)
    _local.pop(ACTIVE_VERSION_CACHE_KEY, None)  # this process serves the new version at once
    return name


def _stored_versions() -> list[str]:
    try:
        _, files = private_storage().listdir(MODEL_DIR)
    except FileNotFoundError:
        return []
    return sorted(f.removesuffix(".json") for f in files if f.endswith(".json"))


_loaded: dict[str, GiftModel] = {}
_load_lock = threading.Lock()
# Per-process copies of small shared values, so a request makes no cache round trip for them.
LOCAL_SECONDS = 10.0
_local: dict[str, tuple[float, Any]] = {}


def local_get(key: str, load: Callable[[], T]) -> T:
    """`load()` at most every LOCAL_SECONDS per process (stale by at most that much)."""
    hit = _local.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < LOCAL_SECONDS:
        cached: T = hit[1]
        return cached
    value = load()
    _local[key] = (now, value)
    return value


def local_caches_clear() -> None:
    _local.clear()
    _loaded.clear()


def _active_version() -> str:
    version: str | None = cache.get(ACTIVE_VERSION_CACHE_KEY)
    if version is None:
        versions = _stored_versions()
        version = versions[-1] if versions else ""
        cache.set(ACTIVE_VERSION_CACHE_KEY, version, CACHE_SECONDS)
    return version


def model_active() -> GiftModel | None:
    """The newest stored model, loaded once per process (the version name is shared through the cache)."""
    version = local_get(ACTIVE_VERSION_CACHE_KEY, _active_version)
    if not version:
        return None
    model = _loaded.get(version)
    if model is None:
        with _load_lock:
            model = _loaded.get(version)
            if model is None:
                try:
                    with private_storage().open(f"{MODEL_DIR}/{version}.json", "rb") as fh:
                        model = GiftModel.from_json(fh.read())
                except (FileNotFoundError, ValueError, KeyError):
                    logger.warning("gift model version unreadable", extra={"version": version})
                    cache.delete(ACTIVE_VERSION_CACHE_KEY)
                    _local.pop(ACTIVE_VERSION_CACHE_KEY, None)
                    return None
                _loaded.clear()
                _loaded[version] = model
    return model
