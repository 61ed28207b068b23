"""Revocation of access tokens: one (logout) by its jti, or all of a user's at once by generation.

Every token carries the user's token generation at issue (claim `gen`, none = 0). A password change,
a ban or logout-everywhere bump User.token_generation; the new value is mirrored in the cache
(no expiry), so the check of every request is one MGET: the token's revocation key, the user's
generation and (riding along, for the stateless authentication) the user's saved language. What the
cache lacks (Redis lost it, or it expired) is read back from the user's row in one query and cached
again.
"""

from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from apps.accounts.models import User
from apps.accounts.selectors import USER_LANGUAGE_KEY

REVOKED_ACCESS_KEY = "jwt:revoked:{jti}"
GENERATION_KEY = "jwt:gen:{user_id}"
GENERATION_CLAIM = "gen"


def token_generation(token: Any) -> int:
    """The generation a token (or a decoded payload) was issued in."""
    return int(token.get(GENERATION_CLAIM, 0))


LANGUAGE_CACHE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class AccessTokenState:
    revoked: bool
    language: str  # the user's saved language; "" follows the request's Accept-Language


def _facts_from_row(user_id: Any, *, generation: bool, language: bool) -> tuple[int, str]:
    row = User.objects.filter(pk=user_id).values_list("token_generation", "language").first() or (0, "")
    # add, not set: a bump (or a profile save) that committed meanwhile has already written the newer value
    if generation:
        cache.add(GENERATION_KEY.format(user_id=user_id), row[0], timeout=None)
    if language:
        cache.add(USER_LANGUAGE_KEY.format(user_id=user_id), row[1], timeout=LANGUAGE_CACHE_SECONDS)
    return int(row[0]), str(row[1])


def access_token_state(token: Any) -> AccessTokenState:
    """Whether the access token was logged out or belongs to an older generation of its user, and the
    user's saved language: all looked up in one cache round trip."""
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    keys = (
        REVOKED_ACCESS_KEY.format(jti=token["jti"]),
        GENERATION_KEY.format(user_id=user_id),
        USER_LANGUAGE_KEY.format(user_id=user_id),
    )
    found = cache.get_many(keys)
    if found.get(keys[0]):
        return AccessTokenState(revoked=True, language="")
    generation, language = found.get(keys[1]), found.get(keys[2])
    if generation is None or language is None:
        row_generation, row_language = _facts_from_row(
            user_id, generation=generation is None, language=language is None
        )
        generation = row_generation if generation is None else generation
        language = row_language if language is None else language
    return AccessTokenState(revoked=token_generation(token) < int(generation), language=str(language))


def access_token_revoked(token: Any) -> bool:
    return access_token_state(token).revoked


def token_state_mirror(*, user: User) -> None:
    """Cache the user's current generation and language (login does it so that the first requests
    need no row)."""
    cache.add(GENERATION_KEY.format(user_id=user.pk), user.token_generation, timeout=None)
    cache.add(USER_LANGUAGE_KEY.format(user_id=user.pk), user.language, timeout=LANGUAGE_CACHE_SECONDS)


def generation_bump(*, user: User) -> int:
    """Refuse every token issued so far for the user: the row's generation goes up by one, and the
    cache follows when the transaction commits. Returns the new generation (also set on `user`)."""
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    generation = User.objects.filter(pk=user.pk).values_list("token_generation", flat=True).get()
    user.token_generation = generation
    key = GENERATION_KEY.format(user_id=user.pk)
    transaction.on_commit(lambda: cache.set(key, generation, timeout=None))
    return generation
