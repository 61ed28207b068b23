from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.services import access_token_revoked
from apps.core.timestamps import iso_utc


class JwtAuthentication(JWTAuthentication):
    """simplejwt's bearer auth plus what it lacks: revoked access tokens and banned users are refused."""

    def authenticate(self, request: Request) -> tuple[User, Token] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        if access_token_revoked(jti=token["jti"]):
            raise InvalidToken("Token has been revoked.")
        self.check_user(user)
        return user, token

    def check_user(self, user: User) -> None:
        if user.is_banned:
            raise AccountBanned(details={"banned_until": iso_utc(user.banned_until), "reason": user.ban_reason})


class JwtStatelessAuthentication(JwtAuthentication):
    """The same bearer auth without reading the user row: request.user is a TokenUser (id from the
    token). Only for hot endpoints whose service checks the account itself, in the statement that
    does the work (gift sends), so a banned or deactivated account is still refused there."""

    def get_user(self, validated_token: Token) -> TokenUser:
        return TokenUser(validated_token)

    def check_user(self, user: TokenUser) -> None:
        pass


class JwtAuthenticationScheme(SimpleJWTScheme):
    """Documents JwtAuthentication as the bearer scheme in the OpenAPI schema."""

    target_class = JwtAuthentication
    name = "jwtAuth"


class JwtStatelessAuthenticationScheme(SimpleJWTScheme):
    """The same bearer token (the schema needs one name per authentication class)."""

    target_class = JwtStatelessAuthentication
    name = "jwtAuthHot"
