"""Per-account login lockout with backoff: no address, header or client can reset it.

LOGIN_LOCKOUT_FAILURES wrong passwords for one account within LOGIN_LOCKOUT_WINDOW_SECONDS lock it
for LOGIN_LOCKOUT_SECONDS; each further lock within a day doubles that, up to
LOGIN_LOCKOUT_MAX_SECONDS. While locked, even the right password is refused (429 login_locked with
retry_after), so guesses are never evaluated. A successful sign-in clears the count and the backoff.
Identifiers without an account are counted and locked the same way, so locking tells no one
whether an account exists.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

from apps.accounts.exceptions import LoginLocked
from apps.core.counters import fixed_window_incr

BACKOFF_MEMORY_SECONDS = 24 * 3600  # how long earlier locks keep doubling the next one


def account_key(*, user_id: int | None, identifier: str) -> str:
    if user_id is not None:
        return f"user:{user_id}"
    return "unknown:" + hashlib.sha256(identifier.strip().lower().encode()).hexdigest()[:32]


def refuse_if_locked(account: str) -> None:
    until = cache.get(f"login-locked:{account}")
    if until is not None and until > time.time():
        raise LoginLocked(details={"retry_after": max(1, math.ceil(until - time.time()))})


def failure_record(account: str) -> None:
    """Count a wrong password; at the limit, lock the account (longer each time) and refuse."""
    failures, _ = fixed_window_incr(f"login-failures:{account}", settings.LOGIN_LOCKOUT_WINDOW_SECONDS)
    if failures < settings.LOGIN_LOCKOUT_FAILURES:
        return
    locks, _ = fixed_window_incr(f"login-locks:{account}", BACKOFF_MEMORY_SECONDS)
    seconds = min(settings.LOGIN_LOCKOUT_SECONDS * 2 ** (locks - 1), settings.LOGIN_LOCKOUT_MAX_SECONDS)
    cache.set(f"login-locked:{account}", time.time() + seconds, timeout=seconds)
    cache.delete(f"login-failures:{account}")  # the next lock needs a full run of failures again
    raise LoginLocked(details={"retry_after": seconds})


def success_record(account: str) -> None:
    cache.delete_many([f"login-failures:{account}", f"login-locks:{account}"])
