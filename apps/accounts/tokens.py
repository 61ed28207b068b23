"""Revocation of access tokens: one (logout) by its jti, or all of a user's at once by generation.

Every token carries the user's token generation at issue (claim `gen`, none = 0). A password change,
a ban or logout-everywhere bump User.token_generation; the new value is mirrored in the cache
(no expiry), so the check of every request is one MGET: the token's revocation key, the user's
generation and (riding along, for the stateless authentication) the user's saved language. What the
cache lacks (Redis lost it, or it expired) is read back from the user's row in one query and cached
again.

A hot endpoint gathers more in the same round trip (`access_token_state_gather`): the request is
counted in the user's throttle window, unless the token is already known to be revoked, and a few
keys of the endpoint's own are read.
"""

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.db import transaction
from django.db.models import F
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from apps.accounts.models import User
from apps.accounts.selectors import USER_LANGUAGE_KEY
from apps.core.cache import ReusingRedisCache
from apps.core.counters import fixed_window_incr
from apps.core.throttling import UserWindow

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
    # (count, seconds left) of the throttle window the request was counted in; None when not counted
    counted: tuple[int, int] | None = None
    reads: dict[str, Any] = field(default_factory=dict)  # the extra keys read along, None for a miss


def _facts_from_row(user_id: Any, *, generation: bool, language: bool) -> tuple[int, str]:
    row = User.objects.filter(pk=user_id).values_list("token_generation", "language").first() or (0, "")
    # add, not set: a bump (or a profile save) that committed meanwhile has already written the newer value
    if generation:
        cache.add(GENERATION_KEY.format(user_id=user_id), row[0], timeout=None)
    if language:
        cache.add(USER_LANGUAGE_KEY.format(user_id=user_id), row[1], timeout=LANGUAGE_CACHE_SECONDS)
    return int(row[0]), str(row[1])


def _state_keys(token: Any) -> tuple[str, str, str]:
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    return (
        REVOKED_ACCESS_KEY.format(jti=token["jti"]),
        GENERATION_KEY.format(user_id=user_id),
        USER_LANGUAGE_KEY.format(user_id=user_id),
    )


def _state(token: Any, revoked: Any, generation: Any, language: Any, **gathered: Any) -> AccessTokenState:
    """The state from the three cached facts (a miss is None), the row filling what the cache lacks."""
    if revoked:
        return AccessTokenState(revoked=True, language="", **gathered)
    if generation is None or language is None:
        row_generation, row_language = _facts_from_row(
            token.get(jwt_settings.USER_ID_CLAIM), generation=generation is None, language=language is None
        )
        generation = row_generation if generation is None else generation
        language = row_language if language is None else language
    return AccessTokenState(revoked=token_generation(token) < int(generation), language=str(language), **gathered)


def access_token_state(token: Any) -> AccessTokenState:
    """Whether the access token was logged out or belongs to an older generation of its user, and the
    user's saved language: all looked up in one cache round trip."""
    keys = _state_keys(token)
    found = cache.get_many(keys)
    return _state(token, *(found.get(key) for key in keys))


# KEYS: the revocation, generation and language keys, the throttle counter (any key when none), then the
# keys to read. ARGV: the token's generation, the throttle window in seconds (0 for none). A token
# known to be revoked is not counted: a stolen, logged-out token cannot use up its owner's limit.
# The count is fixed_window_incr's (INCR, EXPIRE NX, TTL), so both see one window.
_GATHER_SCRIPT = """
local revoked = redis.call('GET', KEYS[1])
local generation = redis.call('GET', KEYS[2])
local reply = {revoked, generation, redis.call('GET', KEYS[3]), false, false}
local seconds = tonumber(ARGV[2])
local stale = generation and tonumber(generation) and tonumber(generation) > tonumber(ARGV[1])
if seconds > 0 and not revoked and not stale then
  reply[4] = redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], seconds, 'NX')
  reply[5] = redis.call('TTL', KEYS[4])
end
for i = 5, #KEYS do
  reply[#reply + 1] = redis.call('GET', KEYS[i])
end
return reply
"""


def access_token_state_gather(
    token: Any, *, window: UserWindow | None = None, reads: Sequence[str] = ()
) -> AccessTokenState:
    """access_token_state, plus: the request counted in the user's throttle `window` (unless the
    token is known to be revoked) and the cache keys `reads` read, all in the same round trip on
    Redis (one Lua script). Other caches take a few calls."""
    keys = _state_keys(token)
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, ReusingRedisCache):
        found = backend.get_many([*keys, *reads])
        state = _state(token, *(found.get(key) for key in keys))
        counted = None
        if window is not None and not state.revoked:
            counted = fixed_window_incr(window.key, window.seconds, cache=backend)
        return AccessTokenState(
            revoked=state.revoked, language=state.language, counted=counted, reads={k: found.get(k) for k in reads}
        )
    reply = backend.script_run(
        _GATHER_SCRIPT,
        keys=[*keys, window.key if window else keys[0], *reads],
        args=[token_generation(token), window.seconds if window else 0],
    )
    revoked, generation, language, count, ttl = reply[:5]
    decode = backend.value_decode
    return _state(
        token,
        decode(revoked),
        decode(generation),
        decode(language),
        counted=None if count is None else (int(count), max(int(ttl), 0)),
        reads={key: decode(raw) for key, raw in zip(reads, reply[5:], strict=True)},
    )


def access_token_revoked(token: Any) -> bool:
    return access_token_state(token).revoked


def token_state_mirror(*, user: User) -> None:
    """Cache the user's current generation, language and card (login does it so that the first
    requests and room joins need no row)."""
    cache.add(GENERATION_KEY.format(user_id=user.pk), user.token_generation, timeout=None)
    cache.add(USER_LANGUAGE_KEY.format(user_id=user.pk), user.language, timeout=LANGUAGE_CACHE_SECONDS)
    cache.set(USER_CARD_KEY.format(user_id=user.pk), user_card_build(user).as_cached(), timeout=USER_CARD_SECONDS)


# --- The user's card: what a stateless check of a token needs besides the token ------------------
# Room joins (apps.live) read it in the same Redis round trip as the token's revocation and
# generation. A card is built under one token generation: a ban, a password change or
# logout-everywhere bump the generation, so a card older than the cached generation is rebuilt.
# A profile edit and an unban delete it (now and after commit).

USER_CARD_KEY = "accounts:card:{user_id}"
USER_CARD_SECONDS = 15 * 60


@dataclass(frozen=True)
class UserCard:
    id: int
    username: str
    display_name: str
    avatar: str | None
    language: str
    is_active: bool
    banned_until: float | None  # a Unix time
    generation: int
    is_staff: bool = False  # rooms show staff the whole chat (a change shows within USER_CARD_SECONDS)

    def brief(self) -> dict[str, Any]:
        """The user as rooms and lists show them (the same fields as apps.live's user_brief)."""
        return {"id": self.id, "username": self.username, "display_name": self.display_name, "avatar": self.avatar}

    def as_cached(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_cached(cls, value: Any) -> "UserCard | None":
        """The card of a cache entry; None for no entry or one of an older shape."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(**value)
        except TypeError:
            return None


def user_card_build(user: User) -> UserCard:
    return UserCard(
        id=user.pk,
        username=user.username,
        display_name=user.name,
        avatar=user.avatar.url if user.avatar else None,
        language=user.language,
        is_active=user.is_active,
        banned_until=user.banned_until.timestamp() if user.banned_until else None,
        generation=user.token_generation,
        is_staff=user.is_staff,
    )


def user_card_load(*, user_id: Any) -> UserCard | None:
    """The user's card from their row, cached again (with their generation); None when there is no such user."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return None
    card = user_card_build(user)
    cache.set(USER_CARD_KEY.format(user_id=user.pk), card.as_cached(), timeout=USER_CARD_SECONDS)
    cache.add(GENERATION_KEY.format(user_id=user.pk), user.token_generation, timeout=None)
    return card


def user_card_forget(*, user_id: int) -> None:
    """The user's profile or ban changed: drop the card now and again after commit (a join reading
    the row meanwhile may cache the old one)."""
    key = USER_CARD_KEY.format(user_id=user_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def access_cache_keys(token: Any) -> tuple[str, str, str]:
    """The cache keys of an access token's facts: its revocation, its user's generation, its user's card."""
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    return (
        REVOKED_ACCESS_KEY.format(jti=token["jti"]),
        GENERATION_KEY.format(user_id=user_id),
        USER_CARD_KEY.format(user_id=user_id),
    )


def card_current(card: UserCard | None, generation: int | None) -> bool:
    """Whether a cached card can be trusted: it exists and no generation bump (a ban) came after it."""
    return card is not None and (generation is None or card.generation >= generation)


def access_allowed(token: Any, *, revoked: bool, generation: int | None, card: UserCard | None) -> bool:
    """Whether a stateless-checked access token signs its user in, from the cached facts (a current
    card: see card_current): not logged out, not of an older generation, an active, unbanned account."""
    if revoked or card is None:
        return False
    current = max(card.generation, generation or 0)
    if token_generation(token) < current:
        return False
    return card.is_active and not (card.banned_until is not None and card.banned_until > time.time())


def generation_bump(*, user: User) -> int:
    """Refuse every token issued so far for the user: the row's generation goes up by one, and the
    cache follows when the transaction commits. Returns the new generation (also set on `user`)."""
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    generation = User.objects.filter(pk=user.pk).values_list("token_generation", flat=True).get()
    user.token_generation = generation
    key = GENERATION_KEY.format(user_id=user.pk)
    transaction.on_commit(lambda: cache.set(key, generation, timeout=None))
    return generation
