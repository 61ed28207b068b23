"""Sign-up by phone, password reset, verifying and changing the account's phone or email.

The codes themselves (hashing, expiry, attempts, cooldowns) are apps.accounts.verification's; SMS
goes through apps.accounts.sms from a Celery task (the request answers once the text is queued; a
provider outage is retried with backoff), email through Django's email backend (the console in the
demo). Sending happens after the code's row is committed and outside any lock; a code that could not
be sent is discarded. Password resets answer the same whether or not an account exists.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from kombu.exceptions import OperationalError
from rest_framework import serializers

from apps.accounts import services, verification
from apps.accounts.exceptions import (
    ChangeNotFound,
    NothingToVerify,
    SmsRejected,
    SmsUnavailable,
    WrongPassword,
)
from apps.accounts.models import User, VerificationCode
from apps.accounts.sms import sms_reachable_check, sms_send
from apps.accounts.tokens import user_card_forget
from apps.accounts.verification import Channel, IssuedCode, Purpose
from apps.core.sealing import SealBroken, seal, unseal

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodeSent:
    expires_in: int  # seconds
    resend_in: int  # seconds before another may be asked for


def _sent(channel: str) -> CodeSent:
    return CodeSent(expires_in=verification.lifetime_seconds(channel), resend_in=settings.VERIFICATION_RESEND_SECONDS)


def _sms_deliver(issued: IssuedCode) -> None:
    """Queue the text (in the reader's language, made now) once the code's row is committed. The
    secret travels in the task's message, as it must to reach the provider, but sealed
    (apps.core.sealing): the broker and the worker's log of task arguments never hold it readable;
    the row keeps only its hash. A number the provider cannot reach at all is refused now
    (SmsRejected), and a broker that cannot take the task is an outage now (SmsUnavailable): either
    way the code is discarded."""
    from apps.accounts.tasks import sms_code_send_task  # the task module imports this one

    text = gettext("HaloBuzz code: %(code)s. It expires in %(minutes)s minutes. Never share it with anyone.") % {
        "code": issued.secret,
        "minutes": settings.VERIFICATION_CODE_MINUTES,
    }
    try:
        sms_reachable_check(to=issued.code.destination)
    except SmsRejected:
        verification.code_discard(code=issued.code)
        raise

    def queue() -> None:
        try:
            sms_code_send_task.delay(issued.code.pk, seal(text))
        except OperationalError:
            logger.exception("sms task could not be queued")
            verification.code_discard(code=issued.code)
            raise SmsUnavailable() from None

    transaction.on_commit(queue)


@dataclass(frozen=True)
class SmsOutcome:
    status: str  # sent, stale (used, retired or expired: nothing sent), rejected, retry, gave_up

    @property
    def retry(self) -> bool:
        return self.status == "retry"


def sms_code_deliver(*, code_id: int, sealed_text: str, final_attempt: bool) -> SmsOutcome:
    """One attempt at texting a queued code. A code no longer live is not sent (a newer one replaced
    it, or it expired while the provider was down), nor is a text this deployment cannot unseal
    (sealed with a key since retired, or altered): the code is discarded and the user asks again. A
    documented refusal discards the code at once; an outage asks for a retry, and on the last
    attempt discards it, so the user asks for a new one."""
    code = VerificationCode.objects.filter(
        pk=code_id, channel=Channel.SMS, used_at__isnull=True, expires_at__gt=timezone.now()
    ).first()
    if code is None:
        return SmsOutcome("stale")
    try:
        text = unseal(sealed_text, max_age_seconds=verification.lifetime_seconds(Channel.SMS))
    except SealBroken:
        logger.error("sms code not delivered: its sealed text cannot be opened", extra={"code_id": code_id})
        verification.code_discard(code=code)
        return SmsOutcome("stale")
    try:
        sms_send(to=code.destination, text=text)
    except SmsRejected as exc:
        logger.error("sms code refused by the provider", extra={"code_id": code_id, **exc.details})
        verification.code_discard(code=code)
        return SmsOutcome("rejected")
    except SmsUnavailable:
        if final_attempt:
            logger.error("sms code not delivered: provider unavailable", extra={"code_id": code_id})
            verification.code_discard(code=code)
            return SmsOutcome("gave_up")
        return SmsOutcome("retry")
    return SmsOutcome("sent")


def _email_deliver(issued: IssuedCode) -> None:
    purpose = issued.code.purpose
    link = f"{settings.SITE_URL.rstrip('/')}/account/email/{issued.secret}/"
    if purpose == Purpose.PASSWORD_RESET:
        subject = gettext("Reset your HaloBuzz password")
        body = gettext("Open this link to choose a new password (it works once, for %(minutes)s minutes):")
    elif purpose in (Purpose.CHANGE_OLD, Purpose.CHANGE_NEW):
        subject = gettext("Confirm the change of your HaloBuzz email")
        body = gettext("Open this link to confirm the change of your account's email (valid %(minutes)s minutes):")
    else:
        subject = gettext("Confirm your HaloBuzz email")
        body = gettext("Open this link to confirm this email for your HaloBuzz account (valid %(minutes)s minutes):")
    body = body % {"minutes": settings.VERIFICATION_LINK_MINUTES}
    footer = gettext("If you did not ask for this, ignore this message.")
    send_mail(subject, f"{body}\n\n{link}\n\n{footer}\n", None, [issued.code.destination])


def _deliver(issued: IssuedCode) -> None:
    if issued.code.channel == Channel.SMS:
        _sms_deliver(issued)
    else:
        _email_deliver(issued)


def _mark_verified(user: User, channel: str) -> list[str]:
    field = "phone_verified_at" if channel == Channel.SMS else "email_verified_at"
    setattr(user, field, timezone.now())
    return [field]


# --- Sign-up by phone --------------------------------------------------------------------------


def signup_code_send(*, phone: str) -> CodeSent:
    """Text a sign-up code to a Nepali mobile no verified account holds."""
    phone = verification.phone_normalize_for_sms(phone)
    if User.objects.filter(phone=phone, phone_verified_at__isnull=False).exists():
        raise serializers.ValidationError({"phone": [gettext_lazy("This phone number is already registered.")]})
    _sms_deliver(verification.code_issue(channel=Channel.SMS, destination=phone, purpose=Purpose.SIGNUP))
    return _sent(Channel.SMS)


def _username_for(phone: str) -> str:
    base = "user" + phone[-4:]
    for _ in range(20):
        candidate = f"{base}{uuid.uuid4().hex[:6]}"
        if not User.objects.filter(username__iexact=candidate).exists():
            return candidate
    return f"user{uuid.uuid4().hex[:12]}"


def user_create_by_phone(
    *,
    phone: str,
    code: str,
    password: str,
    client: str,
    username: str = "",
    display_name: str = "",
    date_of_birth: date | None = None,
    country: str = "NP",
) -> User:
    """Sign up with a phone proven by its SMS code: the account starts with a verified phone. An
    unverified claim of the same number by another account (typed at username sign-up) is released."""
    phone = verification.phone_normalize_for_sms(phone)
    checked = verification.code_check(
        channel=Channel.SMS, destination=phone, purposes=(Purpose.SIGNUP,), secret=code, client=client
    )
    with transaction.atomic():
        verification.code_use(code=checked)
        User.objects.filter(phone=phone, phone_verified_at__isnull=True).update(phone=None)
        user = services.user_create(
            username=username or _username_for(phone),
            password=password,
            phone=phone,
            display_name=display_name,
            date_of_birth=date_of_birth,
            country=country,
        )
        user.phone_verified_at = timezone.now()
        user.save(update_fields=["phone_verified_at"])
    logger.info("user signed up by phone", extra={"user_id": user.pk})
    return user


# --- Password reset ----------------------------------------------------------------------------


def password_reset_start(*, phone: str | None = None, email: str | None = None) -> CodeSent:
    """Send a reset code (phone) or link (email) if an active account has it; the answer is the
    same either way, and so are the limits, so it tells no one whether an account exists."""
    if phone:
        channel, destination = Channel.SMS, verification.phone_normalize_for_sms(phone)
        user = User.objects.filter(phone=destination, is_active=True).first()
    else:
        channel, destination = Channel.EMAIL, services.normalize_email(email) or ""
        user = User.objects.filter(email__iexact=destination, is_active=True).first()
    if user is None:
        verification.send_limits_check(channel=channel, destination=destination)
        logger.info("password reset asked for an unknown contact")
        return _sent(channel)
    issued = verification.code_issue(
        channel=channel, destination=destination, purpose=Purpose.PASSWORD_RESET, user=user
    )
    _deliver(issued)
    return _sent(channel)


def _password_set(*, user_id: int, new_password: str, code: VerificationCode) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        services._check_password(new_password, user, field="new_password")
        verification.code_use(code=code)
        user.set_password(new_password)
        # Whoever received the code holds that phone or inbox.
        fields = ["password", *_mark_verified(user, code.channel)]
        user.save(update_fields=fields)
        services.user_revoke_all_sessions(user=user, reason="password_reset")
        user_card_forget(user_id=user.pk)
    logger.info("password reset", extra={"user_id": user.pk, "channel": code.channel})
    return user


def password_reset_confirm(
    *, new_password: str, client: str, phone: str | None = None, code: str | None = None, token: str | None = None
) -> User:
    """Set a new password with the SMS code (phone + code) or the email link's token; every
    session of the account ends (tokens revoked, sockets closed)."""
    if token:
        checked = verification.link_check(token=token, purposes=(Purpose.PASSWORD_RESET,))
    else:
        destination = verification.phone_normalize_for_sms(phone or "")
        checked = verification.code_check(
            channel=Channel.SMS,
            destination=destination,
            purposes=(Purpose.PASSWORD_RESET,),
            secret=code or "",
            client=client,
        )
    assert checked.user_id is not None  # noqa: S101  (reset codes are issued for an account only)
    return _password_set(user_id=checked.user_id, new_password=new_password, code=checked)


# --- Verifying the account's own phone or email ------------------------------------------------


def contact_verify_send(*, user: User, channel: str) -> CodeSent:
    """Send a code to the account's unverified phone, or a link to its unverified email."""
    if channel == Channel.SMS:
        if not user.phone or user.phone_verified_at is not None:
            raise NothingToVerify()
        destination = verification.phone_normalize_for_sms(user.phone)
    else:
        if not user.email or user.email_verified_at is not None:
            raise NothingToVerify()
        destination = user.email
    _deliver(verification.code_issue(channel=channel, destination=destination, purpose=Purpose.VERIFY, user=user))
    return _sent(channel)


def phone_verify(*, user: User, code: str, client: str) -> User:
    """Prove the account's phone with the SMS code sent to it (codes of other accounts never match)."""
    if not user.phone or user.phone_verified_at is not None:
        raise NothingToVerify()
    checked = verification.code_check(
        channel=Channel.SMS, destination=user.phone, purposes=(Purpose.VERIFY,), secret=code, client=client, user=user
    )
    with transaction.atomic():
        verification.code_use(code=checked)
        user.phone_verified_at = timezone.now()
        user.save(update_fields=["phone_verified_at"])
    user_card_forget(user_id=user.pk)
    return user


# --- Changing the phone or email: confirmed on the old one and the new one ---------------------


@dataclass(frozen=True)
class ChangeStarted:
    change_id: uuid.UUID
    confirm_old: bool  # a code (phone) or link (email) went to the current one as well
    sent: CodeSent


def contact_change_start(
    *, user: User, password: str, phone: str | None = None, email: str | None = None
) -> ChangeStarted:
    """Start changing the phone or email: the password again, then a code or link to the new one and,
    when the account has a current one, to it too. Nothing changes until both are confirmed."""
    if not user.check_password(password):
        raise WrongPassword()
    if phone:
        channel, new = Channel.SMS, verification.phone_normalize_for_sms(phone)
        old = user.phone
        taken = User.objects.exclude(pk=user.pk).filter(phone=new, phone_verified_at__isnull=False).exists()
    else:
        channel, new = Channel.EMAIL, services.normalize_email(email) or ""
        old = user.email
        taken = User.objects.exclude(pk=user.pk).filter(email__iexact=new).exists()
    field = "phone" if channel == Channel.SMS else "email"
    if taken:
        raise serializers.ValidationError({field: [gettext_lazy("This is already registered to another account.")]})
    if old and old.lower() == new.lower():
        raise serializers.ValidationError({field: [gettext_lazy("This is already the account's own.")]})
    group = uuid.uuid4()
    verification.send_limits_check(channel=channel, destination=new)
    issued = [
        verification.code_issue(
            channel=channel,
            destination=new,
            purpose=Purpose.CHANGE_NEW,
            user=user,
            change_group=group,
            check_limits=False,
        )
    ]
    if old:
        issued.append(
            verification.code_issue(
                channel=channel,
                destination=old,
                purpose=Purpose.CHANGE_OLD,
                user=user,
                change_group=group,
                check_limits=False,
            )
        )
    try:
        for one in issued:
            _deliver(one)
    except (SmsUnavailable, SmsRejected):
        VerificationCode.objects.filter(change_group=group).delete()
        raise
    return ChangeStarted(change_id=group, confirm_old=bool(old), sent=_sent(channel))


def _change_apply(*, user_id: int, group: uuid.UUID) -> User | None:
    """Apply a change whose halves are all used (caller holds the transaction); None while one waits."""
    halves = list(VerificationCode.objects.select_for_update().filter(change_group=group).order_by("pk"))
    if not halves or any(half.used_at is None for half in halves):
        return None
    new = next(half for half in halves if half.purpose == Purpose.CHANGE_NEW)
    user = User.objects.select_for_update().get(pk=user_id)
    if new.channel == Channel.SMS:
        User.objects.filter(phone=new.destination, phone_verified_at__isnull=True).exclude(pk=user_id).update(
            phone=None
        )
        user.phone, user.phone_verified_at = new.destination, timezone.now()
        fields = ["phone", "phone_verified_at"]
    else:
        user.email, user.email_verified_at = new.destination, timezone.now()
        fields = ["email", "email_verified_at"]
    try:
        with transaction.atomic():
            user.save(update_fields=fields)
    except IntegrityError:
        raise serializers.ValidationError(
            {fields[0]: [gettext_lazy("This is already registered to another account.")]}
        ) from None
    user_card_forget(user_id=user.pk)
    logger.info("contact changed", extra={"user_id": user.pk, "channel": new.channel})
    return user


def contact_change_confirm(
    *, user: User, change_id: uuid.UUID, new_code: str, client: str, old_code: str | None = None
) -> User:
    """Confirm a phone change with both SMS codes (the old one's only when it was sent); the phone
    changes and counts as verified. Another user's change is not found."""
    halves = {half.purpose: half for half in VerificationCode.objects.filter(change_group=change_id, user=user)}
    new = halves.get(Purpose.CHANGE_NEW)
    if new is None or new.channel != Channel.SMS:
        raise ChangeNotFound()
    old = halves.get(Purpose.CHANGE_OLD)
    checked = [
        verification.code_check(
            channel=Channel.SMS,
            destination=new.destination,
            purposes=(Purpose.CHANGE_NEW,),
            secret=new_code,
            client=client,
            user=user,
        )
    ]
    if old is not None:
        checked.append(
            verification.code_check(
                channel=Channel.SMS,
                destination=old.destination,
                purposes=(Purpose.CHANGE_OLD,),
                secret=old_code or "",
                client=client,
                user=user,
            )
        )
    if any(code.change_group != change_id for code in checked):  # a newer change replaced this one
        raise ChangeNotFound()
    with transaction.atomic():
        for code in checked:
            verification.code_use(code=code)
        changed = _change_apply(user_id=user.pk, group=change_id)
    assert changed is not None  # noqa: S101  (both halves were just used)
    return changed


# --- Email links -------------------------------------------------------------------------------

LINK_PURPOSES = (Purpose.VERIFY, Purpose.CHANGE_OLD, Purpose.CHANGE_NEW)


@dataclass(frozen=True)
class LinkConfirmed:
    purpose: str
    applied: bool  # the email is now verified / changed (False: the other half of a change waits)


def email_link_confirm(*, token: str) -> LinkConfirmed:
    """Confirm an email link: verify the account's email, or one half of an email change (the change
    applies when the link to the other address is confirmed too)."""
    checked = verification.link_check(token=token, purposes=LINK_PURPOSES)
    user_id = checked.user_id
    assert user_id is not None  # noqa: S101  (these links are issued for an account only)
    with transaction.atomic():
        code = verification.code_use(code=checked)
        if code.purpose == Purpose.VERIFY:
            user = User.objects.select_for_update().get(pk=user_id)
            if (user.email or "").lower() != code.destination.lower():
                return LinkConfirmed(purpose=code.purpose, applied=False)  # the email changed since
            user.save(update_fields=_mark_verified(user, Channel.EMAIL))
            return LinkConfirmed(purpose=code.purpose, applied=True)
        assert code.change_group is not None  # noqa: S101
        return LinkConfirmed(
            purpose=code.purpose, applied=_change_apply(user_id=user_id, group=code.change_group) is not None
        )
