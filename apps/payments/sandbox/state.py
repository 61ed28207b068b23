"""The sandbox's memory (the cache) and its per-transaction scenarios.

Views are async and touch only the cache: under daphne a sync view making an HTTP call back to the
sandbox on the same server would otherwise wait for the very thread it occupies.
"""

import secrets
import string
from typing import Any

from django.core.cache import cache

PREFIX = "payments_sandbox"
TTL = 3 * 24 * 3600

# The merchants the sandbox knows (the gateways' published test credentials).
ESEWA_MERCHANTS = {"EPAYTEST": "8gBm/:&EnhH.1/q"}
KHALTI_SECRET_KEYS = {"test_secret_key_halobuzz_sandbox"}
KHALTI_EXPIRES_IN = 3600

SCENARIO_KEYS = {
    "delay": "seconds to wait before answering a status/lookup query",
    "timeout_polls": "the first N status/lookup queries hang past the client's timeout",
    "outage_polls": "the first N status/lookup queries answer 503 with the outage body",
    "bad_json_polls": "the first N status/lookup queries answer 200 with a body that is not JSON",
    "ambiguous": "status AMBIGUOUS (eSewa) / an unknown status (Khalti) once paid",
    "amount_paisa": "report this total amount instead of the real one",
    "pending_polls": "after the payer confirmed, the first N queries still say PENDING / Pending",
    "not_found": "the status API does not know the transaction",
    "refund": '"full" or "partial": once paid, report a refund',
    "expired": "Khalti: lookup says Expired (HTTP 400)",
}


def _key(*parts: str) -> str:
    return ":".join((PREFIX, *parts))


def random_id(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def txn_get(gateway: str, ref: str) -> dict[str, Any] | None:
    return cache.get(_key(gateway, ref))


def txn_put(gateway: str, ref: str, txn: dict[str, Any]) -> None:
    cache.set(_key(gateway, ref), txn, TTL)


def scenario_get(ref: str) -> dict[str, Any]:
    return cache.get(_key("scenario", ref)) or {}


def scenario_set(ref: str, **options: Any) -> dict[str, Any]:
    """Merge options into the scenario of a transaction ref (eSewa transaction_uuid / Khalti order id)."""
    unknown = set(options) - set(SCENARIO_KEYS)
    if unknown:
        raise ValueError(f"unknown scenario options: {sorted(unknown)}")
    scenario = {**scenario_get(ref), **options}
    cache.set(_key("scenario", ref), scenario, TTL)
    return scenario


def scenario_clear(ref: str) -> None:
    cache.delete_many([_key("scenario", ref), _key("polls", ref), _key("pending", ref)])


def count(ref: str, counter: str) -> int:
    """Increment and return a per-ref counter (atomic in Redis and in the local-memory cache)."""
    key = _key(counter, ref)
    cache.add(key, 0, TTL)
    return cache.incr(key)
