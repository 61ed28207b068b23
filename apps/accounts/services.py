import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, gettext_noop
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.accounts import lockout, twofactor
from apps.accounts.duties import require_not_own as require_not_own  # for the apps above
from apps.accounts.duties import require_outranks as require_outranks
from apps.accounts.exceptions import (
    AccountBanned,
    AccountDeletionPending,
    AccountInactive,
    AgeCheckFailed,
    AgeRestricted,
    AgeVerificationRequired,
    CannotBlockSelf,
    CannotFollowSelf,
    ContactChangeRequired,
    InvalidCredentials,
    PhoneVerificationRequired,
    SecondFactorRequired,
    TokenInvalid,
    UserBlocked,
    WrongPassword,
)
from apps.accounts.faces import DESCRIPTOR_SIZE
from apps.accounts.models import Block, FaceDescriptor, Follow, User, age_on
from apps.accounts.selectors import USER_LANGUAGE_KEY, is_blocked_between, user_find_for_login
from apps.accounts.signals import follow_created, profile_changed, sessions_revoked
from apps.accounts.tokens import (
    GENERATION_CLAIM,
    REVOKED_ACCESS_KEY,
    generation_bump,
    token_generation,
    token_state_mirror,
    user_card_forget,
)
from apps.accounts.verification import phone_normalize
from apps.core.content_filter import name_check, text_mask
from apps.core.i18n import translate_lazy

logger = logging.getLogger(__name__)


def _field_errors(field: str, error: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError({field: list(error.messages)})


def _check_password(password: str, user: User, *, field: str = "password") -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise _field_errors(field, exc) from None


def normalize_email(email: str | None) -> str | None:
    """None for blank; the domain part lower-cased (addresses compare case-insensitively anyway)."""
    if not email:
        return None
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}" if local else email.strip()


def _check_age(date_of_birth: date) -> None:
    if age_on(date_of_birth, timezone.localdate()) < settings.MIN_SIGNUP_AGE:
        raise serializers.ValidationError(
            {
                "date_of_birth": [
                    translate_lazy(
                        gettext_noop("You must be at least %(age)s to use HaloBuzz."), age=settings.MIN_SIGNUP_AGE
                    )
                ]
            }
        )


def _taken_errors(
    *, user_id: int | None, username: str | None, email: str | None, phone: str | None
) -> dict[str, list[Any]]:
    """Which of the unique identifiers another account already holds (after an IntegrityError)."""
    others = User.objects.exclude(pk=user_id) if user_id else User.objects.all()
    taken: dict[str, list[Any]] = {}
    if username and others.filter(username__iexact=username).exists():
        taken["username"] = [gettext_lazy("This username is taken.")]
    if email and others.filter(email__iexact=email).exists():
        taken["email"] = [gettext_lazy("This email is already registered.")]
    if phone and others.filter(phone=phone).exists():
        taken["phone"] = [gettext_lazy("This phone number is already registered.")]
    return taken


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
    """Sign a new user up. Usernames, emails and phones are unique (usernames and emails case-insensitively);
    a username or display name with a banned word is refused (name_not_allowed)."""
    if date_of_birth is not None:
        _check_age(date_of_birth)
    name_check(value=username, field="username")
    name_check(value=display_name, field="display_name")
    email = normalize_email(email)
    user = User(
        username=username,
        email=email,
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
        taken = _taken_errors(user_id=None, username=username, email=email, phone=phone)
        raise serializers.ValidationError(
            taken or {"non_field_errors": [gettext_lazy("Could not create the account.")]}
        ) from None
    return user


def tokens_issue(*, user: User) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh[GENERATION_CLAIM] = user.token_generation  # copied into the access token too
    token_state_mirror(user=user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _refuse_if_banned(user: User) -> None:
    if user.is_banned:
        raise AccountBanned.of(user)


def user_credentials_check(*, identifier: str, password: str) -> User:
    """The account whose credentials (username, email or phone, and password) these are, whatever its
    state (the caller decides about deactivated, banned or deleting accounts); InvalidCredentials else.

    An account locked after too many wrong passwords (apps.accounts.lockout) is refused before its
    password is checked."""
    user = user_find_for_login(identifier=identifier)
    account = lockout.account_key(user_id=user.pk if user else None, identifier=identifier)
    lockout.refuse_if_locked(account)
    if user is None:
        # Hash anyway, so the response time does not tell which identifiers have an account.
        User().set_password(password)
        lockout.failure_record(account)
        raise InvalidCredentials()
    if not user.check_password(password):
        lockout.failure_record(account)
        raise InvalidCredentials()
    lockout.success_record(account)
    return user


def user_password_confirm(*, user: User, password: str) -> None:
    """Re-authentication of a signed-in user before a grave step: WrongPassword unless `password` is
    theirs. Wrong guesses count towards the account's login lockout."""
    account = lockout.account_key(user_id=user.pk, identifier="")
    lockout.refuse_if_locked(account)
    if not user.has_usable_password() or not user.check_password(password):
        lockout.failure_record(account)
        raise WrongPassword()
    lockout.success_record(account)


def user_login(*, identifier: str, password: str) -> tuple[User, dict[str, str]]:
    """Check credentials (username, email or phone) and issue a token pair. An account waiting out
    its deletion's grace period is told so (AccountDeletionPending: the app offers the undo); one
    with two-step sign-in on answers SecondFactorRequired with a challenge instead of tokens."""
    user = user_credentials_check(identifier=identifier, password=password)
    if user.deletion_due_at is not None:
        raise AccountDeletionPending.of(user)
    if not user.is_active:
        raise InvalidCredentials()
    _refuse_if_banned(user)
    if twofactor.two_factor_enabled(user=user):
        raise SecondFactorRequired(details={"challenge": twofactor.challenge_issue(user=user)})
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user, tokens_issue(user=user)


def user_login_second_factor(*, challenge: str, code: str) -> tuple[User, dict[str, str]]:
    """Finish a sign-in that answered second_factor_required: the challenge and a TOTP or recovery code."""
    user = twofactor.second_factor_pass(challenge=challenge, code=code)
    if user.deletion_due_at is not None or not user.is_active:  # deleted or deactivated since step one
        raise InvalidCredentials()
    _refuse_if_banned(user)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user, tokens_issue(user=user)


def tokens_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: the old one is blacklisted, a new pair is returned.

    A banned user is told so (AccountBanned) although the ban has revoked the token already.
    Two refreshes racing with one token: the unique blacklist row lets exactly one of them win.
    """
    try:
        # signature and expiry, not yet the blacklist (simplejwt's annotations ask for a Token; it decodes strings)
        payload = token_backend.decode(refresh, verify=True)  # type: ignore[arg-type]
    except TokenBackendError:
        raise TokenInvalid() from None
    user_id = payload.get(jwt_settings.USER_ID_CLAIM)
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id is not None else None
    if user is None:
        raise TokenInvalid()
    _refuse_if_banned(user)
    if token_generation(payload) < user.token_generation:  # issued before a password change or logout-everywhere
        raise TokenInvalid()
    try:
        old = RefreshToken(refresh)  # type: ignore[arg-type]  # the token type and the blacklist
    except TokenError:
        raise TokenInvalid() from None
    # get_or_create's (row, created) pair, although simplejwt annotates it as the row
    _, blacklisted_now = cast(tuple[Any, bool], old.blacklist())
    if not blacklisted_now:  # a concurrent refresh with the same token won
        raise TokenInvalid()
    return tokens_issue(user=user)


def _revoke_access(access: AccessToken) -> None:
    remaining = int(access["exp"] - timezone.now().timestamp())
    if remaining > 0:
        cache.set(REVOKED_ACCESS_KEY.format(jti=access["jti"]), True, timeout=remaining)


def user_logout(*, user: User, refresh: str, access: AccessToken | None) -> None:
    """Revoke the session: its refresh token is blacklisted and the access token refused from now on."""
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
    except TokenError:
        raise TokenInvalid() from None
    if str(token.payload.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
        raise TokenInvalid(gettext_lazy("That refresh token belongs to another session."))
    token.blacklist()
    if access is not None:
        _revoke_access(access)


@transaction.atomic
def user_revoke_all_sessions(*, user: User, reason: str = "session_revoked") -> None:
    """End every session of the user (password change, ban, logout-everywhere): outstanding refresh
    tokens are blacklisted, every access token issued so far is refused (token generation), and the
    user's open room sockets close after commit with `reason`."""
    outstanding = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    generation_bump(user=user)
    sessions_revoked.send(sender=User, user_id=user.pk, reason=reason)


def _contact_edit_guard(*, user: User, data: dict[str, Any]) -> dict[str, Any]:
    """A verified phone or email changes only through the contact change (apps.accounts.recovery),
    confirmed on the old and the new one; an unverified one may be edited here (still unverified)."""
    if "phone" in data and data["phone"]:
        data["phone"] = phone_normalize(data["phone"])
    if "phone" in data and (data["phone"] or None) != user.phone and user.phone_verified_at is not None:
        raise ContactChangeRequired()
    if "email" in data and normalize_email(data["email"]) != user.email and user.email_verified_at is not None:
        raise ContactChangeRequired()
    return data


PROFILE_FIELDS = {"display_name", "bio", "avatar", "date_of_birth", "country", "email", "phone", "language"}


@transaction.atomic
def user_update_profile(*, user: User, data: dict[str, Any]) -> User:
    """Edit the user's own profile. The date of birth can be set once (age gates hang on it); an
    account keeps an email or a phone number; an avatar of None clears it. A display name with a
    banned word is refused (name_not_allowed); banned words in a bio are masked."""
    unknown = set(data) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    data = _contact_edit_guard(user=user, data=dict(data))
    if data.get("display_name"):
        name_check(value=data["display_name"], field="display_name")
    if data.get("bio"):
        data["bio"] = text_mask(data["bio"])
    if "email" in data:
        data["email"] = normalize_email(data["email"])
    if "phone" in data:
        data["phone"] = data["phone"] or None
    if "avatar" in data and data["avatar"] is None:
        data["avatar"] = ""
    if data.get("date_of_birth") is not None:
        if user.date_of_birth is not None and user.date_of_birth != data["date_of_birth"]:
            # Once set, only support can change it.
            raise serializers.ValidationError({"date_of_birth": [gettext_lazy("Date of birth can only be set once.")]})
        _check_age(data["date_of_birth"])
    email = data["email"] if "email" in data else user.email
    phone = data["phone"] if "phone" in data else user.phone
    if not email and not phone:
        raise serializers.ValidationError({"email": [gettext_lazy("Keep an email or a phone number on the account.")]})
    for field, value in data.items():
        setattr(user, field, value)
    try:
        with transaction.atomic():
            user.save(update_fields=[*data.keys()])
    except IntegrityError:
        taken = _taken_errors(user_id=user.pk, username=None, email=email, phone=phone)
        raise serializers.ValidationError(
            taken or {"non_field_errors": [gettext_lazy("Could not save the profile.")]}
        ) from None
    if "language" in data:
        # Now, and again after commit (a request reading meanwhile may cache the old value).
        language_key = USER_LANGUAGE_KEY.format(user_id=user.pk)
        cache.delete(language_key)
        transaction.on_commit(lambda: cache.delete(language_key))
    user_card_forget(user_id=user.pk)
    profile_changed.send(sender=User, user_id=user.pk)
    return user


def user_change_password(*, user: User, old_password: str, new_password: str) -> None:
    if not user.check_password(old_password):
        raise WrongPassword()
    _check_password(new_password, user, field="new_password")
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
    follow, created = Follow.objects.get_or_create(follower=follower, followee=followee)
    if created:
        follow_created.send(sender=Follow, follower_id=follower.pk, followee_id=followee.pk)
    return follow


def follow_delete(*, follower: User, followee: User) -> None:
    Follow.objects.filter(follower=follower, followee=followee).delete()


# Apps above accounts act on a new block: live closes the sockets either user has in the other's rooms.
BlockListener = Callable[..., None]  # listener(blocker_id=, blocked_id=), inside the block's transaction
_block_listeners: list[BlockListener] = []


def block_listener_register(listener: BlockListener) -> None:
    """Call `listener` on every block made from now on (once per listener)."""
    if listener not in _block_listeners:
        _block_listeners.append(listener)


@transaction.atomic
def block_create(*, blocker: User, blocked: User) -> Block:
    """Block someone (idempotent): any follow between the two is removed too."""
    if blocker.pk == blocked.pk:
        raise CannotBlockSelf()
    block, _ = Block.objects.get_or_create(blocker=blocker, blocked=blocked)
    Follow.objects.filter(follower=blocker, followee=blocked).delete()
    Follow.objects.filter(follower=blocked, followee=blocker).delete()
    for listener in _block_listeners:
        listener(blocker_id=blocker.pk, blocked_id=blocked.pk)
    return block


# ... and on an unblock: live forgets which rooms refuse either user.
_unblock_listeners: list[BlockListener] = []


def unblock_listener_register(listener: BlockListener) -> None:
    """Call `listener` on every unblock made from now on (once per listener)."""
    if listener not in _unblock_listeners:
        _unblock_listeners.append(listener)


@transaction.atomic
def block_delete(*, blocker: User, blocked: User) -> None:
    if Block.objects.filter(blocker=blocker, blocked=blocked).delete()[0]:
        for listener in _unblock_listeners:
            listener(blocker_id=blocker.pk, blocked_id=blocked.pk)


@transaction.atomic
def user_ban(
    *, user: User, until: datetime | None = None, days: int | None = None, reason: str, by: User | None = None
) -> User:
    """Ban until a time (or for N days; neither means for a hundred years) and end every session.
    `by`, the staff member acting, must rank above the user (apps.accounts.duties)."""
    if by is not None:
        require_outranks(actor=by, target=user)
    if until is None:
        until = timezone.now() + timedelta(days=days if days is not None else 36500)
    user.banned_until = until
    user.ban_reason = reason[:300]
    user.save(update_fields=["banned_until", "ban_reason"])
    user_card_forget(user_id=user.pk)
    user_revoke_all_sessions(user=user, reason="banned")
    logger.info("user banned", extra={"user_id": user.pk, "until": until.isoformat()})
    return user


def user_unban(*, user: User, by: User | None = None) -> User:
    if by is not None:
        require_outranks(actor=by, target=user)
    user.banned_until = None
    user.ban_reason = ""
    user.save(update_fields=["banned_until", "ban_reason"])
    user_card_forget(user_id=user.pk)
    logger.info("user unbanned", extra={"user_id": user.pk})
    return user


M = TypeVar("M", bound=models.Model)


def user_lock(*, user_id: int) -> User:
    """Lock the user's row until the transaction ends, for a decision about them (a moderator's ban
    or unban) that must not interleave with another. FOR NO KEY UPDATE: rows that only reference the
    user (a gift send's) are not held up. Lock order: after the caller's own rows and any Stream."""
    return User.objects.select_for_update(no_key=True).get(pk=user_id)


def user_capped_add(
    *,
    user_id: int,
    rows: models.QuerySet[M],
    existing: models.QuerySet[M],
    most: int,
    limit_error: Exception,
    create: Callable[[], M],
) -> tuple[M, bool]:
    """Add one of a user's capped rows (a host's banned words, their room moderators), inside the
    caller's transaction. The user's row is locked first, so two additions at once cannot pass the
    cap together. A row already there changes nothing: (that row, False)."""
    user_lock(user_id=user_id)
    found = existing.first()
    if found is not None:
        return found, False
    if rows.count() >= most:
        raise limit_error
    return create(), True


def user_age_verification_set(*, user_id: int, status: str, only_from: str | None = None) -> bool:
    """Set the account's age verification state (User.AgeVerification); True when it changed.

    With `only_from`, only an account in that state changes: one conditional UPDATE, so of two
    concurrent checks exactly one wins and the other gets False.
    """
    rows = User.objects.filter(pk=user_id)
    if only_from is not None:
        rows = rows.filter(age_verification=only_from)
    changed = rows.update(age_verification=User.AgeVerification(status)) == 1
    if changed:
        logger.info("age verification set", extra={"user_id": user_id, "age_verification": status})
    return changed


def user_face_descriptor_set(*, user_id: int, descriptor: Sequence[float], model_version: str) -> None:
    """Keep the descriptor of the face on the user's age-check selfie (replacing any earlier one), for
    the KYC face match; the selfie itself is not kept for this."""
    if len(descriptor) != DESCRIPTOR_SIZE:
        raise ValueError(f"a face descriptor has {DESCRIPTOR_SIZE} values, not {len(descriptor)}")
    FaceDescriptor.objects.update_or_create(
        user_id=user_id, defaults={"descriptor": [float(v) for v in descriptor], "model_version": model_version}
    )
    logger.info("face descriptor kept", extra={"user_id": user_id, "model_version": model_version})


AGE_HELD = (User.AgeVerification.PENDING_REVIEW, User.AgeVerification.REJECTED)


def user_require_adult(*, user: User) -> None:
    """Refuse buying coins, going live, gifting and games to accounts whose age check estimated a
    possible minor (AgeCheckFailed: held for an ID review, or rejected) and to minors by date of
    birth (AgeRestricted)."""
    if user.age_verification in AGE_HELD:
        raise AgeCheckFailed.of(user)
    if not user.is_adult:
        raise AgeRestricted(details={"age_verification": user.age_verification, "age": user.age})


def user_require_verified_age(*, user: User, message: "str | Promise | None" = None) -> None:
    """Refuse what needs a verified age (going live, cashing out, spending past the unverified
    allowance): an adult by date of birth whose selfie check or ID review passed. `message` says
    what was refused; the default asks for the age check."""
    user_require_adult(user=user)
    if user.age_verification != User.AgeVerification.VERIFIED:
        raise AgeVerificationRequired(
            message, details={"age_verification": user.age_verification, "next_step": "age_check"}
        )


def user_require_verified_phone(*, user: User, message: "str | Promise | None" = None) -> None:
    """Refuse going live and money out (README "Accounts": what an unverified account may do) to an
    account whose phone is not verified, e.g. a username sign-up that never proved one."""
    if user.phone_verified_at is None or not user.phone:
        raise PhoneVerificationRequired(
            message, details={"next_step": "phone_verify", "contact_verified": user.is_contact_verified}
        )


def user_require_active_adult(*, user: User) -> None:
    """Refuse deactivated (AccountInactive), banned (AccountBanned), under-age and age-held accounts
    (AgeRestricted). Its SQL twin is `selectors.user_active_adult_sql`."""
    if not user.is_active:
        raise AccountInactive()
    if user.is_banned:
        raise AccountBanned.of(user)
    user_require_adult(user=user)


# --- Account deletion (apps.privacy runs the request, its grace period and the undo) ---------------

DELETION_RESTORABLE_FIELDS = ("display_name", "bio")


@transaction.atomic
def user_deletion_start(*, user: User, due_at: datetime) -> dict[str, str]:
    """Hide the account at once for its deletion: deactivated (no sign-in, not found by others, no
    gift or room), every session revoked, name and bio blanked, the avatar's file deleted after
    commit, follows and blocks both ways dropped. Returns what `user_deletion_undo` can put back;
    the avatar and the social graph cannot come back."""
    user = user_lock(user_id=user.pk)
    restorable = {field: getattr(user, field) for field in DELETION_RESTORABLE_FIELDS}
    avatar_name, avatar_storage = user.avatar.name, user.avatar.storage
    user.is_active = False
    user.deletion_due_at = due_at
    user.display_name = ""
    user.bio = ""
    user.avatar = ""  # an ImageField takes a file name
    user.save(update_fields=["is_active", "deletion_due_at", "display_name", "bio", "avatar"])
    if avatar_name:
        transaction.on_commit(lambda: avatar_storage.delete(avatar_name))
    user_social_graph_drop(user=user)
    user_card_forget(user_id=user.pk)
    user_revoke_all_sessions(user=user)
    profile_changed.send(sender=User, user_id=user.pk)
    logger.info("account deletion started", extra={"user_id": user.pk, "due_at": due_at.isoformat()})
    return restorable


@transaction.atomic
def user_deletion_undo(*, user: User, restore: dict[str, str]) -> User:
    """Reactivate an account whose deletion was undone, with the fields `user_deletion_start` kept."""
    user = user_lock(user_id=user.pk)
    for field in DELETION_RESTORABLE_FIELDS:
        setattr(user, field, restore.get(field, ""))
    user.is_active = True
    user.deletion_due_at = None
    user.save(update_fields=["is_active", "deletion_due_at", *DELETION_RESTORABLE_FIELDS])
    user_card_forget(user_id=user.pk)
    profile_changed.send(sender=User, user_id=user.pk)
    logger.info("account deletion undone", extra={"user_id": user.pk})
    return user


@transaction.atomic
def user_social_graph_drop(*, user: User) -> None:
    """Remove every follow and block the user is in, either way (unblock listeners are told)."""
    Follow.objects.filter(Q(follower=user) | Q(followee=user)).delete()
    for blocker_id, blocked_id in Block.objects.filter(Q(blocker=user) | Q(blocked=user)).values_list(
        "blocker_id", "blocked_id"
    ):
        Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).delete()
        for listener in _unblock_listeners:
            listener(blocker_id=blocker_id, blocked_id=blocked_id)


@transaction.atomic
def user_anonymise(*, user: User) -> User:
    """Turn the account into a tombstone once its deletion is final: the row stays (the ledger, gifts
    and payments keep pointing at it, so money history stays provable) but nothing identifies the
    person; the username, email and phone number are free for others again."""
    user = user_lock(user_id=user.pk)
    user.username = f"deleted-{user.pk}"
    user.email = None
    user.phone = None
    user.first_name = ""
    user.last_name = ""
    user.display_name = ""
    user.bio = ""
    user.avatar = ""
    user.date_of_birth = None
    user.language = ""
    user.ban_reason = ""
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.deletion_due_at = None
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()
    FaceDescriptor.objects.filter(user_id=user.pk).delete()  # biometric: nothing of it outlives the account
    user_card_forget(user_id=user.pk)
    logger.info("account anonymised", extra={"user_id": user.pk})
    return user
