import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.accounts.exceptions import (
    AccountBanned,
    AgeRestricted,
    CannotBlockSelf,
    CannotFollowSelf,
    InvalidCredentials,
    TokenInvalid,
    UserBlocked,
    WrongPassword,
)
from apps.accounts.models import Block, Follow, User, age_on
from apps.accounts.selectors import is_blocked_between, user_find_for_login

logger = logging.getLogger(__name__)

REVOKED_ACCESS_KEY = "jwt:revoked:{jti}"


def _field_errors(field: str, error: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError({field: list(error.messages)})


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise _field_errors("password", exc) from None


def user_create(
    *,
    username: str,
    password: str,
    email: str | None = None,
    phone: str | None = None,
    display_name: str = "",
    date_of_birth: date | None = None,
    country: str = "NP",
) -> User:
    """Sign a new user up. Usernames, emails and phones are unique (case-insensitive username)."""
    if date_of_birth is not None and age_on(date_of_birth, timezone.localdate()) < settings.MIN_SIGNUP_AGE:
        raise serializers.ValidationError(
            {"date_of_birth": [f"You must be at least {settings.MIN_SIGNUP_AGE} to sign up."]}
        )
    user = User(
        username=username,
        email=email or None,
        phone=phone or None,
        display_name=display_name,
        date_of_birth=date_of_birth,
        country=country,
    )
    _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        taken = {}
        if User.objects.filter(username__iexact=username).exists():
            taken["username"] = ["This username is taken."]
        if email and User.objects.filter(email__iexact=email).exists():
            taken["email"] = ["This email is already registered."]
        if phone and User.objects.filter(phone=phone).exists():
            taken["phone"] = ["This phone number is already registered."]
        raise serializers.ValidationError(taken or {"non_field_errors": ["Could not create the account."]}) from None
    return user


def tokens_issue(*, user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _refuse_if_banned(user: User) -> None:
    if user.is_banned:
        raise AccountBanned(details={"banned_until": user.banned_until.isoformat(), "reason": user.ban_reason})


def user_login(*, identifier: str, password: str) -> tuple[User, dict[str, str]]:
    """Check credentials (username, email or phone) and issue a token pair."""
    user = user_find_for_login(identifier=identifier)
    if user is None or not user.is_active or not user.check_password(password):
        raise InvalidCredentials()
    _refuse_if_banned(user)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user, tokens_issue(user=user)


def tokens_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: the old one is blacklisted, a new pair is returned."""
    try:
        old = RefreshToken(refresh)  # verifies signature, expiry and the blacklist
    except TokenError:
        raise TokenInvalid() from None
    user = User.objects.filter(pk=old.payload.get("user_id"), is_active=True).first()
    if user is None:
        raise TokenInvalid()
    _refuse_if_banned(user)
    try:
        old.blacklist()
    except IntegrityError:  # a concurrent refresh with the same token won
        raise TokenInvalid() from None
    return tokens_issue(user=user)


def _revoke_access(access: AccessToken) -> None:
    remaining = int(access["exp"] - timezone.now().timestamp())
    if remaining > 0:
        cache.set(REVOKED_ACCESS_KEY.format(jti=access["jti"]), True, timeout=remaining)


def user_logout(*, user: User, refresh: str, access: AccessToken | None) -> None:
    """Revoke the session: its refresh token is blacklisted and the access token refused from now on."""
    try:
        token = RefreshToken(refresh)
    except TokenError:
        raise TokenInvalid() from None
    if str(token.payload.get("user_id")) != str(user.pk):
        raise TokenInvalid("That refresh token belongs to another session.")
    try:
        token.blacklist()
    except IntegrityError:
        pass  # already revoked: logging out twice is fine
    if access is not None:
        _revoke_access(access)


def access_token_revoked(*, jti: str) -> bool:
    return bool(cache.get(REVOKED_ACCESS_KEY.format(jti=jti)))


def user_revoke_all_sessions(*, user: User) -> None:
    """Blacklist every outstanding refresh token of the user (password change, ban)."""
    outstanding = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )


PROFILE_FIELDS = {"display_name", "bio", "avatar", "date_of_birth", "country", "email", "phone"}


@transaction.atomic
def user_update_profile(*, user: User, data: dict[str, Any]) -> User:
    unknown = set(data) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    if "date_of_birth" in data and data["date_of_birth"] is not None:
        if user.date_of_birth is not None and user.date_of_birth != data["date_of_birth"]:
            # Age gates hang on this: once set, only support can change it.
            raise serializers.ValidationError({"date_of_birth": ["Date of birth can only be set once."]})
    for field, value in data.items():
        if field in {"email", "phone"}:
            value = value or None
        setattr(user, field, value)
    try:
        with transaction.atomic():
            user.save(update_fields=[*data.keys()])
    except IntegrityError:
        raise serializers.ValidationError({"non_field_errors": ["Email or phone already in use."]}) from None
    return user


def user_change_password(*, user: User, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password):
        raise WrongPassword()
    _check_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        user_revoke_all_sessions(user=user)


def follow_create(*, follower: User, followee: User) -> Follow:
    """Follow someone (idempotent). Refused between users where either has blocked the other."""
    if follower.pk == followee.pk:
        raise CannotFollowSelf()
    if is_blocked_between(user_id=follower.pk, other_id=followee.pk):
        raise UserBlocked()
    follow, _ = Follow.objects.get_or_create(follower=follower, followee=followee)
    return follow


def follow_delete(*, follower: User, followee: User) -> None:
    Follow.objects.filter(follower=follower, followee=followee).delete()


@transaction.atomic
def block_create(*, blocker: User, blocked: User) -> Block:
    """Block someone (idempotent): any follow between the two is removed too."""
    if blocker.pk == blocked.pk:
        raise CannotBlockSelf()
    block, _ = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    Follow.objects.filter(follower=blocker, followee=blocked).delete()
    Follow.objects.filter(follower=blocked, followee=blocker).delete()
    return block


def block_delete(*, blocker: User, blocked: User) -> None:
    Block.objects.filter(blocker=blocker, blocked=blocked).delete()


@transaction.atomic
def user_ban(*, user: User, until: datetime | None = None, days: int | None = None, reason: str) -> User:
    """Ban until a time (or for N days; neither means for a hundred years) and end every session."""
    if until is None:
        until = timezone.now() + timedelta(days=days if days is not None else 36500)
    user.banned_until = until
    user.ban_reason = reason[:300]
    user.save(update_fields=["banned_until", "ban_reason"])
    user_revoke_all_sessions(user=user)
    logger.info("user banned", extra={"user_id": user.pk, "until": until.isoformat()})
    return user


def user_unban(*, user: User) -> User:
    user.banned_until = None
    user.ban_reason = ""
    user.save(update_fields=["banned_until", "ban_reason"])
    logger.info("user unbanned", extra={"user_id": user.pk})
    return user


def user_require_adult(*, user: User) -> None:
    """Refuse going live, gifting and games to minors and to accounts held for an age review."""
    if not user.is_adult:
        raise AgeRestricted(details={"age_verification": user.age_verification, "age": user.age})
