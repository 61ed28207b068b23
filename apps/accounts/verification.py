"""One-time codes that prove a phone or an email: sign-up by phone, password reset, verifying the
account's contact, changing it (confirmed on both the old and the new one).

- SMS codes are 6 random digits, email links carry a 32-byte random token. Only an HMAC (keyed by
  SECRET_KEY, salted with the destination for codes) is stored: a database dump does not reveal a
  live code, and 10^6 guesses against a hash are useless without the key.
- Good once, for VERIFICATION_CODE_MINUTES (links: VERIFICATION_LINK_MINUTES), and for
  VERIFICATION_MAX_ATTEMPTS guesses; every guess is counted before it is compared (one UPDATE ...
  WHERE attempts < max), so concurrent guesses cannot exceed it. Asking again retires the old code.
- Sends per destination: one per VERIFICATION_RESEND_SECONDS, VERIFICATION_SENDS_PER_HOUR an hour.
  Wrong guesses per destination and per client address an hour are capped too (verification_locked),
  on top of the per-address throttles of the views.
- Checking a code (`code_check`) happens outside any transaction; using it (`code_use`) in the
  caller's transaction with the change it authorises, so a refused change leaves the code unused.
"""

import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import phonenumbers
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from apps.accounts.exceptions import (
    CodeExpired,
    CodeInvalid,
    CodeResendTooSoon,
    TooManyCodes,
    VerificationLocked,
)
from apps.accounts.models import User, VerificationCode
from apps.core.counters import fixed_window_incr

logger = logging.getLogger(__name__)

Purpose = VerificationCode.Purpose
Channel = VerificationCode.Channel
HASH_SALT = "halobuzz.accounts.verification"
HOUR = 3600


def phone_normalize(raw: str, *, region: str = "NP", field: str = "phone") -> str:
    """The E.164 form of a phone number typed as the user would (9801234567, 980-1234567, +977 ...),
    Nepal unless it says otherwise; refuses what libphonenumber does not know as a valid number."""
    try:
        number = phonenumbers.parse(raw, region or "NP")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise serializers.ValidationError({field: [gettext_lazy("Enter a valid phone number, e.g. 9801234567.")]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_normalize_for_sms(raw: str, *, field: str = "phone") -> str:
    """As phone_normalize, and a Nepali mobile number: the only numbers our SMS provider reaches."""
    e164 = phone_normalize(raw, field=field)
    number = phonenumbers.parse(e164, None)
    mobile = phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    if phonenumbers.region_code_for_number(number) != "NP" or not mobile:
        raise serializers.ValidationError({field: [gettext_lazy("Codes can be sent only to Nepali mobile numbers.")]})
    return e164


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def secret_hash(secret: str, *, destination: str | None = None) -> str:
    """HMAC of a code (salted with its destination) or of a link token (high entropy on its own)."""
    message = f"{destination}:{secret}" if destination is not None else secret
    return salted_hmac(HASH_SALT, message, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    code: VerificationCode
    secret: str  # to send, never to store


def send_limits_check(*, channel: str, destination: str) -> None:
    """One send per destination per cooldown (atomic: cache.add), and an hourly cap."""
    key = f"verify-cooldown:{channel}:{_digest(destination)}"
    until = time.time() + settings.VERIFICATION_RESEND_SECONDS
    if not cache.add(key, until, timeout=settings.VERIFICATION_RESEND_SECONDS):
        retry_after = max(1, int((cache.get(key) or until) - time.time()) + 1)
        raise CodeResendTooSoon(details={"retry_after": retry_after})
    sent, seconds_left = fixed_window_incr(f"verify-sends:{channel}:{_digest(destination)}", HOUR)
    if sent > settings.VERIFICATION_SENDS_PER_HOUR:
        raise TooManyCodes(details={"retry_after": seconds_left})


def code_issue(
    *,
    channel: str,
    destination: str,
    purpose: str,
    user: User | None = None,
    change_group: uuid.UUID | None = None,
    check_limits: bool = True,
) -> IssuedCode:
    """A new code (SMS) or link token (email) for destination and purpose; earlier unused ones for the
    same destination and purpose are retired. Limits first: nothing is written when refused."""
    if check_limits:
        send_limits_check(channel=channel, destination=destination)
    if channel == Channel.SMS:
        secret = f"{secrets.randbelow(10**6):06d}"
        hashed = secret_hash(secret, destination=destination)
        lifetime = timedelta(minutes=settings.VERIFICATION_CODE_MINUTES)
    else:
        secret = secrets.token_urlsafe(32)
        hashed = secret_hash(secret)
        lifetime = timedelta(minutes=settings.VERIFICATION_LINK_MINUTES)
    now = timezone.now()
    VerificationCode.objects.filter(
        channel=channel, destination=destination, purpose=purpose, used_at__isnull=True
    ).update(expires_at=now)
    code = VerificationCode.objects.create(
        user=user,
        channel=channel,
        destination=destination,
        purpose=purpose,
        secret_hash=hashed,
        change_group=change_group,
        expires_at=now + lifetime,
    )
    return IssuedCode(code=code, secret=secret)


def code_discard(*, code: VerificationCode) -> None:
    """Forget a code that could not be delivered; for a change of contact, both halves (a change
    must never be confirmed by one side alone)."""
    if code.change_group is not None:
        VerificationCode.objects.filter(change_group=code.change_group).delete()
    else:
        VerificationCode.objects.filter(pk=code.pk).delete()


def _failure_keys(destination: str, client: str) -> tuple[str, str]:
    return f"verify-failures:dest:{_digest(destination)}", f"verify-failures:addr:{_digest(client)}"


def _refuse_if_locked(destination: str, client: str) -> None:
    dest_key, addr_key = _failure_keys(destination, client)
    counts = cache.get_many([dest_key, addr_key])
    if (counts.get(dest_key) or 0) >= settings.VERIFICATION_FAILURES_PER_DESTINATION_HOUR or (
        counts.get(addr_key) or 0
    ) >= settings.VERIFICATION_FAILURES_PER_ADDRESS_HOUR:
        raise VerificationLocked()


def _failure_record(destination: str, client: str) -> None:
    dest_key, addr_key = _failure_keys(destination, client)
    fixed_window_incr(dest_key, HOUR)
    fixed_window_incr(addr_key, HOUR)
    logger.info("wrong verification code")


def code_check(
    *, channel: str, destination: str, purposes: tuple[str, ...], secret: str, client: str, user: User | None = None
) -> VerificationCode:
    """The live code of destination (and user, when given) for one of `purposes` that `secret` matches.

    Counts the guess first; raises CodeExpired (none live), VerificationLocked (this code's guesses
    or the destination's / address's hourly wrong guesses are used up) or CodeInvalid. Run it outside
    a transaction: a wrong guess must stay counted. Does not use the code (`code_use`)."""
    _refuse_if_locked(destination, client)
    live = VerificationCode.objects.filter(
        channel=channel,
        destination=destination,
        purpose__in=purposes,
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    if user is not None:
        live = live.filter(user=user)
    code = live.order_by("-created_at").first()
    if code is None:
        _failure_record(destination, client)
        raise CodeExpired()
    counted = VerificationCode.objects.filter(pk=code.pk, attempts__lt=settings.VERIFICATION_MAX_ATTEMPTS).update(
        attempts=F("attempts") + 1
    )
    if not counted:
        raise VerificationLocked()
    if not constant_time_compare(code.secret_hash, secret_hash(secret.strip(), destination=destination)):
        _failure_record(destination, client)
        attempts_left = max(0, settings.VERIFICATION_MAX_ATTEMPTS - code.attempts - 1)
        raise CodeInvalid(details={"attempts_left": attempts_left})
    return code


def link_check(*, token: str, purposes: tuple[str, ...]) -> VerificationCode:
    """The live email link of `token` for one of `purposes` (CodeExpired when none). The token's 256
    bits make guessing hopeless; the views' throttles still bound the tries."""
    code = VerificationCode.objects.filter(
        channel=Channel.EMAIL,
        secret_hash=secret_hash(token.strip()),
        purpose__in=purposes,
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).first()
    if code is None:
        raise CodeExpired()
    return code


def code_use(*, code: VerificationCode) -> VerificationCode:
    """Mark a checked code used, in the caller's transaction; CodeExpired when a concurrent request
    used it first (the row lock decides) or it expired meanwhile."""
    locked = (
        VerificationCode.objects.select_for_update()
        .filter(pk=code.pk, used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if locked is None:
        raise CodeExpired()
    locked.used_at = timezone.now()
    locked.save(update_fields=["used_at"])
    return locked


def lifetime_seconds(channel: str) -> int:
    minutes = settings.VERIFICATION_CODE_MINUTES if channel == Channel.SMS else settings.VERIFICATION_LINK_MINUTES
    return minutes * 60
