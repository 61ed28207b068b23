"""The FCM sandbox's memory, in the cache (shared by every process of a deployment): access tokens
it issued, per-registration-token scenarios, counters and the last messages it accepted."""

import secrets
from typing import Any

from django.core.cache import cache

PREFIX = "fcm_sandbox"
TOKEN_LIFETIME = 3600
RECENT = 200  # messages kept for the sandbox page (a ring)
TTL = 24 * 3600
ALL = "*"  # the scenario that applies to every registration token

SCENARIO_KEYS = {
    "unregistered": "true: answer 404 NOT_FOUND / UNREGISTERED (the app was uninstalled)",
    "invalid_argument": "true: answer 400 INVALID_ARGUMENT (the token is not a valid registration token)",
    "unavailable": "the next N sends answer 503 UNAVAILABLE",
    "quota_exceeded": "the next N sends answer 429 RESOURCE_EXHAUSTED / QUOTA_EXCEEDED",
    "internal": "the next N sends answer 500 INTERNAL",
    "retry_after": "seconds for the Retry-After header of those answers (omitted when unset)",
}


def _key(*parts: str) -> str:
    return ":".join((PREFIX, *parts))


def access_token_issue(*, client_email: str) -> str:
    token = "ya29.sandbox-" + secrets.token_urlsafe(32)
    cache.set(_key("access", token), client_email, TOKEN_LIFETIME)
    count("token_exchanges")
    return token


def access_token_valid(token: str) -> bool:
    return bool(token) and cache.get(_key("access", token)) is not None


def scenario_get(device_token: str) -> dict[str, Any]:
    return cache.get(_key("scenario", device_token)) or {}


def scenario_set(device_token: str, **options: Any) -> dict[str, Any]:
    unknown = set(options) - set(SCENARIO_KEYS)
    if unknown:
        raise ValueError(f"unknown scenario options: {sorted(unknown)}")
    scenario = {**scenario_get(device_token), **options}
    cache.set(_key("scenario", device_token), scenario, TTL)
    for name in ("unavailable", "quota_exceeded", "internal"):
        cache.delete(_key("faults", name, device_token))
    return scenario


def scenario_clear(device_token: str) -> None:
    cache.delete(_key("scenario", device_token))


def fault_take(device_token: str, name: str, limit: int) -> bool:
    """True for the first `limit` sends to this token under fault `name`."""
    key = _key("faults", name, device_token)
    cache.add(key, 0, TTL)
    return cache.incr(key) <= limit


def count(counter: str, by: int = 1) -> int:
    key = _key("count", counter)
    cache.add(key, 0, TTL)
    return cache.incr(key, by)


def counts() -> dict[str, int]:
    names = ("token_exchanges", "accepted", "refused")
    found = cache.get_many([_key("count", name) for name in names])
    return {name: int(found.get(_key("count", name), 0)) for name in names}


def counts_reset() -> None:
    cache.delete_many([_key("count", name) for name in ("token_exchanges", "accepted", "refused")])


def message_record(message: dict[str, Any]) -> str:
    number = count("accepted")
    name = f"{number}"
    cache.set(_key("recent", str(number % RECENT)), {"number": number, **message}, TTL)
    return name


def messages_recent(limit: int = 50) -> list[dict[str, Any]]:
    last = counts()["accepted"]
    numbers = [n for n in range(last, max(last - limit, 0), -1)]
    found = cache.get_many([_key("recent", str(n % RECENT)) for n in numbers])
    recent = [found.get(_key("recent", str(n % RECENT))) for n in numbers]
    return [m for m in recent if m and m["number"] > last - RECENT]
