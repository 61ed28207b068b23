from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from django.http import HttpRequest
from django.utils import translation
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.tokens import access_token_state, access_token_state_gather
from apps.core.throttling import user_window_counted, user_window_of


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a request that passed IsAuthenticated with JwtAuthentication (the
    stateless one gives a TokenUser instead), typed as the User the services take."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def request_user_id(request: HttpRequest) -> int:
    """The signed-in user's id, also under JwtStatelessAuthentication (its TokenUser holds only the
    token's user id claim)."""
    user_id = request.user.pk
    if user_id is None:
        raise NotAuthenticated()
    return int(user_id)


def language_activate_saved(request: Request, saved: str) -> None:
    """A saved language preference wins over the request's Accept-Language (LocaleMiddleware's
    pick) for the rest of this request."""
    if saved:
        translation.activate(saved)
        request.LANGUAGE_CODE = translation.get_language()


class JwtAuthentication(JWTAuthentication):
    """simplejwt's bearer auth plus what it lacks: revoked access tokens and banned users are refused."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        state = access_token_state(token)  # one cache round trip, the saved language riding along
        if state.revoked:
            raise InvalidToken("Token has been revoked.")
        language_activate_saved(request, user.language if isinstance(user, User) else state.language)
        self.check_user(user)
        return user, token

    def check_user(self, user: Any) -> None:
        """A banned account is refused (its tokens were revoked at the ban; this covers the rest)."""
        if isinstance(user, User) and user.is_banned:
            raise AccountBanned.of(user)


@runtime_checkable
class CacheReadsView(Protocol):
    def cache_reads(self, request: Request) -> Sequence[str]:
        """Cache keys the view will want, read in the authentication's round trip (a guess from the
        raw request: the view checks what it gets against its validated input)."""
        ...


_CACHE_READS_ATTR = "_cache_reads"


def request_cache_reads(request: object) -> Mapping[str, Any]:
    """What JwtStatelessAuthentication read for the view's `cache_reads` (a key absent was not read;
    None is a miss)."""
    reads: Mapping[str, Any] = getattr(request, _CACHE_READS_ATTR, {})
    return reads


class JwtStatelessAuthentication(JwtAuthentication):
    """The same bearer auth without reading the user row: request.user is a TokenUser (id from the
    token). Only for hot endpoints whose service checks the account itself, in the statement that
    does the work (gift sends), so a banned or deactivated account is still refused there.

    One cache round trip per request: the token's revocation and generation, the saved language,
    the count in the user's throttle window (UserRateThrottle then decides without a round trip of
    its own) and the keys the view names (`CacheReadsView`)."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        result = JWTAuthentication.authenticate(self, request)  # the signature and expiry only
        if result is None:
            return None
        user, token = result
        view = (getattr(request, "parser_context", None) or {}).get("view")  # a DRF request names its view
        window = user_window_of(view=view, user_id=user.pk)
        reads = list(view.cache_reads(request)) if isinstance(view, CacheReadsView) else []
        state = access_token_state_gather(token, window=window, reads=reads)
        if state.revoked:
            raise InvalidToken("Token has been revoked.")
        language_activate_saved(request, state.language)
        if window is not None and state.counted is not None:
            count, seconds_left = state.counted
            user_window_counted(request, window=window, count=count, seconds_left=seconds_left)
        setattr(request, _CACHE_READS_ATTR, state.reads)
        return user, token

    def get_user(self, validated_token: Token) -> Any:
        return TokenUser(validated_token)

    def check_user(self, user: Any) -> None:
        pass


class JwtAuthenticationScheme(SimpleJWTScheme):
    """Documents JwtAuthentication as the bearer scheme in the OpenAPI schema."""

    target_class = JwtAuthentication  # type: ignore[assignment]  # drf-spectacular takes the class too
    name = "jwtAuth"


class JwtStatelessAuthenticationScheme(SimpleJWTScheme):
    """The same bearer token (the schema needs one name per authentication class)."""

    target_class = JwtStatelessAuthentication  # type: ignore[assignment]
    name = "jwtAuthHot"
