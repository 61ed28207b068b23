"""Readiness of the services the app depends on."""

import logging
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 1.0


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    cache.set("readyz:probe", "1", timeout=5)
    if cache.get("readyz:probe") != "1":
        raise RuntimeError("cache did not return what was written")


def _check_channel_layer() -> None:
    config: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    for host in config.get("CONFIG", {}).get("hosts", []):
        address = host if isinstance(host, str) else host.get("address")
        client = redis.Redis.from_url(
            address, socket_timeout=PROBE_TIMEOUT_SECONDS, socket_connect_timeout=PROBE_TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()


CHECKS = {"database": _check_database, "cache": _check_cache, "channel_layer": _check_channel_layer}


def readiness_failures() -> dict[str, str]:
    """Each unreachable dependency with the reason, empty when all answer."""
    failures = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means not ready; the reason goes to the probe
            logger.warning("readiness check failed", extra={"check": name, "error": str(exc)})
            failures[name] = f"{type(exc).__name__}: {exc}"[:300]
    return failures
