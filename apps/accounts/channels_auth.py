"""JWT authentication for WebSockets: the same access token as the API.

Clients send it either in the query string (`?token=<access>`) or as the WebSocket subprotocol
pair `["jwt", "<access>"]` (browsers cannot set headers on a WebSocket). Consumers accept with
`subprotocol=scope["auth_subprotocol"]` when it is set.
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
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


@database_sync_to_async
def user_for_token(raw: str) -> User | AnonymousUser:
    try:
        token = AccessToken(raw)  # type: ignore[arg-type]  # simplejwt decodes the string
    except TokenError:
        return AnonymousUser()
    if access_token_revoked(token):
        return AnonymousUser()
    user = User.objects.filter(pk=token.get("user_id"), is_active=True).first()
    if user is None or user.is_banned:
        return AnonymousUser()
    return user


class JwtAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        raw, subprotocol = token_from_scope(scope)
        scope = dict(scope, user=await user_for_token(raw) if raw else AnonymousUser(), auth_subprotocol=subprotocol)
        return await super().__call__(scope, receive, send)
