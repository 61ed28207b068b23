"""Two-step sign-in for users: a TOTP authenticator app (django-otp's TOTPDevice) plus ten recovery
codes (django-otp's StaticDevice), the same devices staff use for the admin (apps.core.twofactor).

- Setting up needs the password; the device counts only once a code from the app confirms it, and
  the recovery codes are returned then, once. Recovery codes are stored as a keyed hash (django-otp
  compares the stored token as given, so we hand it the hash of what the user typed); each works once.
- With a confirmed device, a right password at /auth/login/ answers 401 second_factor_required with a
  signed challenge (SECOND_FACTOR_CHALLENGE_SECONDS); /auth/login/2fa/ trades it and a code for tokens.
  django-otp refuses a TOTP code already used (last_t) and throttles a device after failures; on top,
  SECOND_FACTOR_MAX_FAILURES wrong codes in 15 minutes lock the step (verification_locked).
"""

import base64
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.exceptions import (
    SecondFactorInvalid,
    TokenInvalid,
    TwoFactorState,
    VerificationLocked,
    WrongPassword,
)
from apps.accounts.models import User
from apps.core.counters import fixed_window_incr

logger = logging.getLogger(__name__)

DEVICE_NAME = "app"  # the user's TOTP device (staff devices made in the admin have other names)
RECOVERY_DEVICE_NAME = "recovery"
RECOVERY_CODES = 10
CHALLENGE_SALT = "halobuzz.accounts.second-factor"
FAILURE_WINDOW = 900


def two_factor_enabled(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, name=DEVICE_NAME, confirmed=True).exists()


def _recovery_hash(code: str) -> str:
    return salted_hmac(RECOVERY_DEVICE_NAME, code.strip().lower().replace("-", ""), algorithm="sha256").hexdigest()[:16]


@dataclass(frozen=True)
class TotpSetup:
    secret: str  # base32, for typing into the app by hand
    otpauth_url: str  # for a QR code


def totp_setup_start(*, user: User, password: str) -> TotpSetup:
    """A new unconfirmed authenticator (replacing an earlier unconfirmed one)."""
    if not user.check_password(password):
        raise WrongPassword()
    if two_factor_enabled(user=user):
        raise TwoFactorState()
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, name=DEVICE_NAME, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return TotpSetup(secret=base64.b32encode(device.bin_key).decode(), otpauth_url=device.config_url)


def totp_setup_confirm(*, user: User, code: str) -> list[str]:
    """Confirm the authenticator with a code from it; returns the recovery codes (shown this once)."""
    device = TOTPDevice.objects.filter(user=user, name=DEVICE_NAME, confirmed=False).first()
    if device is None:
        raise TwoFactorState()
    if not device.verify_token(code.strip()):
        raise SecondFactorInvalid()
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME).delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        StaticToken.objects.bulk_create([StaticToken(device=recovery, token=_recovery_hash(c)) for c in codes])
    logger.info("two-step sign-in enabled", extra={"user_id": user.pk})
    return codes


def _code_valid(user: User, code: str) -> bool:
    code = code.strip()
    # Six digits are an authenticator code, anything else a recovery code: a guess only ever counts
    # against (and is throttled by django-otp on) the one device it could be for.
    if len(code) == 6 and code.isdigit():
        device = TOTPDevice.objects.filter(user=user, name=DEVICE_NAME, confirmed=True).first()
        return device is not None and device.verify_token(code)
    recovery = StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True).first()
    return recovery is not None and recovery.verify_token(_recovery_hash(code))


def _second_factor_check(user: User, code: str) -> None:
    key = f"2fa-failures:{user.pk}"
    if (cache.get(key) or 0) >= settings.SECOND_FACTOR_MAX_FAILURES:
        raise VerificationLocked()
    if not _code_valid(user, code):
        fixed_window_incr(key, FAILURE_WINDOW)
        raise SecondFactorInvalid()
    cache.delete(key)


def two_factor_disable(*, user: User, password: str, code: str) -> None:
    """Turn two-step sign-in off: the password and a current code (or a recovery code)."""
    if not user.check_password(password):
        raise WrongPassword()
    if not two_factor_enabled(user=user):
        raise TwoFactorState()
    _second_factor_check(user, code)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, name=DEVICE_NAME).delete()
        StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME).delete()
    logger.info("two-step sign-in disabled", extra={"user_id": user.pk})


def challenge_issue(*, user: User) -> str:
    """The signed proof that the password was right, valid SECOND_FACTOR_CHALLENGE_SECONDS and only
    while the user's token generation is unchanged (a password reset voids it)."""
    return signing.dumps({"u": user.pk, "g": user.token_generation}, salt=CHALLENGE_SALT)


def challenge_user(*, challenge: str) -> User:
    try:
        payload = signing.loads(challenge, salt=CHALLENGE_SALT, max_age=settings.SECOND_FACTOR_CHALLENGE_SECONDS)
    except signing.BadSignature:  # SignatureExpired included
        raise TokenInvalid() from None
    user = User.objects.filter(pk=payload.get("u"), is_active=True).first()
    if user is None or user.token_generation != payload.get("g"):
        raise TokenInvalid()
    return user


def second_factor_pass(*, challenge: str, code: str) -> User:
    """The user of a valid challenge whose code (TOTP or recovery) is right."""
    user = challenge_user(challenge=challenge)
    _second_factor_check(user, code)
    return user
