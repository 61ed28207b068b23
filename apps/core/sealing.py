"""Short-lived secrets that must travel through the broker (the text of an SMS code).

A Celery message sits in Redis until a worker takes it, and Celery logs a task's arguments: a
sealed text is readable by neither. The key is derived from SECRET_KEY (and its fallbacks, so a
rotation does not break messages already queued); Fernet also dates each token, so a stale one is
refused however long it waited.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

_KEY_SALT = "halobuzz.sealing"


class SealBroken(Exception):
    """The token was not sealed by this deployment's keys, was altered, or is older than allowed."""


def _fernet(secret: str | bytes) -> Fernet:
    key = salted_hmac(_KEY_SALT, "fernet", secret=secret, algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    return MultiFernet([_fernet(settings.SECRET_KEY), *(_fernet(key) for key in settings.SECRET_KEY_FALLBACKS)])


def seal(text: str) -> str:
    return _keys().encrypt(text.encode()).decode("ascii")


def unseal(token: str, *, max_age_seconds: int) -> str:
    try:
        return _keys().decrypt(token.encode("ascii"), ttl=max_age_seconds).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise SealBroken() from exc
