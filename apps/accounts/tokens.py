"""Revocation of access tokens: one (logout) by its jti, or all of a user's at once by generation.

Every token carries the user's token generation at issue (claim `gen`, none = 0). A password change,
a ban or logout-everywhere bump User.token_generation; the new value is mirrored in the cache
(no expiry), so the check of every request is one MGET of the two keys. A generation missing from
the cache (Redis lost it) is read back from the user's row once and cached again.
"""

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from apps.accounts.models import User

REVOKED_ACCESS_KEY = "jwt:revoked:{jti}"
GENERATION_KEY = "jwt:gen:{user_id}"
GENERATION_CLAIM = "gen"


def token_generation(token: Any) -> int:
    """The generation a token (or a decoded payload) was issued in."""
    return int(token.get(GENERATION_CLAIM, 0))


def _generation_from_row(user_id: Any) -> int:
    generation = User.objects.filter(pk=user_id).values_list("token_generation", flat=True).first() or 0
    # add, not set: a bump that committed meanwhile has already written the newer value
    cache.add(GENERATION_KEY.format(user_id=user_id), generation, timeout=None)
    return generation


def access_token_revoked(token: Any) -> bool:
    """True when the access token was logged out or belongs to an older generation of its user:
    both looked up in one cache round trip."""
    revoked_key = REVOKED_ACCESS_KEY.format(jti=token["jti"])
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    generation_key = GENERATION_KEY.format(user_id=user_id)
    found = cache.get_many([revoked_key, generation_key])
    if found.get(revoked_key):
        return True
    current = found.get(generation_key)
    if current is None:
        current = _generation_from_row(user_id)
    return token_generation(token) < int(current)


def generation_mirror(*, user_id: int, generation: int) -> None:
    """Cache the user's current generation (login does it so that the first requests need no row)."""
    cache.add(GENERATION_KEY.format(user_id=user_id), generation, timeout=None)


def generation_bump(*, user: User) -> int:
    """Refuse every token issued so far for the user: the row's generation goes up by one, and the
    cache follows when the transaction commits. Returns the new generation (also set on `user`)."""
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    generation = User.objects.filter(pk=user.pk).values_list("token_generation", flat=True).get()
    user.token_generation = generation
    key = GENERATION_KEY.format(user_id=user.pk)
    transaction.on_commit(lambda: cache.set(key, generation, timeout=None))
    return generation
