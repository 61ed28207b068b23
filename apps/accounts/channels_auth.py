"""JWT authentication for WebSockets: the same access token as the API.

Clients send it either in the query string (`?token=<access>`) or as the WebSocket subprotocol
pair `["jwt", "<access>"]` (browsers cannot set headers on a WebSocket). Consumers accept with
`subprotocol=scope["auth_subprotocol"]` when it is set.
"""

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import User
from apps.accounts.tokens import access_token_revoked

SUBPROTOCOL = "jwt"


def token_from_scope(scope: dict) -> tuple[str | None, str | None]:
    """The raw token and the subprotocol to answer with (None when it came in the query string)."""
    subprotocols = scope.get("subprotocols") or []
    if len(subprotocols) >= 2 and subprotocols[0] == SUBPROTOCOL:
        return subprotocols[1], SUBPROTOCOL
    query = parse_qs(scope.get("query_string", b"").decode())
    tokens = query.get("token")
    return (tokens[0] if tokens else None), None


def token_decode(raw: str) -> AccessToken | None:
    """The access token if its signature, type and expiry hold (no I/O: revocation is checked apart)."""
    try:
        return AccessToken(raw)  # type: ignore[arg-type]  # simplejwt decodes the string
    except TokenError:
        return None


def user_for_access_token(token: AccessToken) -> User | AnonymousUser:
    """The token's user, or anonymous when the token was revoked or the account is inactive or banned."""
    if access_token_revoked(token):
        return AnonymousUser()
    user = User.objects.filter(pk=token.get("user_id"), is_active=True).first()
    if user is None or user.is_banned:
        return AnonymousUser()
    return user


@database_sync_to_async
def user_for_token(raw: str) -> User | AnonymousUser:
    token = token_decode(raw)
    return AnonymousUser() if token is None else user_for_access_token(token)


class JwtAuthMiddleware(BaseMiddleware):
    """Puts the token's user in `scope["user"]` (anonymous without a valid token).

    On `deferred_paths` (the stream rooms) it only checks the token's signature: `scope["user"]` is
    then a TokenUser (the id of the token) and `scope["access_token"]` the token, and the consumer
    checks revocation, the generation and the account itself, in the one Redis round trip that also
    reads the room's facts (apps.live.room_join). A consumer on such a path must do that check."""

    def __init__(self, inner: Any, *, deferred_paths: tuple[str, ...] = ()) -> None:
        super().__init__(inner)
        self.deferred_paths = deferred_paths

    async def __call__(self, scope, receive, send):
        raw, subprotocol = token_from_scope(scope)
        if scope.get("path", "").startswith(self.deferred_paths):
            token = token_decode(raw) if raw else None
            user: Any = TokenUser(token) if token is not None else AnonymousUser()
            scope = dict(scope, user=user, access_token=token, auth_subprotocol=subprotocol)
        else:
            user = await user_for_token(raw) if raw else AnonymousUser()
            scope = dict(scope, user=user, auth_subprotocol=subprotocol)
        return await super().__call__(scope, receive, send)
