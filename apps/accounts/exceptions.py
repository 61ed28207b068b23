from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError
from apps.core.timestamps import iso_utc

if TYPE_CHECKING:  # the models import nothing from here, but keep exceptions importable on their own
    from apps.accounts.models import User


class AccountInactive(DomainError):
    code = "account_inactive"
    status = 403
    message = _("This account is deactivated.")


class AccountBanned(DomainError):
    code = "account_banned"
    status = 403
    message = _("This account is banned.")

    @classmethod
    def of(cls, user: "User") -> "AccountBanned":
        """The error for a banned user, saying until when and why."""
        return cls(details={"banned_until": iso_utc(user.banned_until), "reason": user.ban_reason})


class AccountDeletionPending(DomainError):
    code = "account_deletion_pending"
    status = 403
    message = _("This account is being deleted. You can still undo the deletion until the date shown.")
    client_action = (
        "Offer the undo (POST /api/v1/me/deletion/undo/ with the same credentials) before `details.undo_until`."
    )

    @classmethod
    def of(cls, user: "User") -> "AccountDeletionPending":
        return cls(details={"undo_until": iso_utc(user.deletion_due_at)})


class CannotFollowSelf(DomainError):
    code = "cannot_follow_self"
    status = 400
    message = _("You cannot follow yourself.")


class CannotBlockSelf(DomainError):
    code = "cannot_block_self"
    status = 400
    message = _("You cannot block yourself.")


class UserBlocked(DomainError):
    code = "user_blocked"
    status = 403
    message = _("This user has blocked you, or you have blocked them.")


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    message = _("Wrong username, email, phone or password.")


class WrongPassword(DomainError):
    code = "wrong_password"
    status = 400
    message = _("The current password is wrong.")


class TokenInvalid(DomainError):
    code = "token_invalid"
    status = 401
    message = _("The token is invalid, expired or revoked.")


class AgeRestricted(DomainError):
    code = "age_restricted"
    status = 403
    message = _("This needs a verified adult account (18+).")


class AgeCheckFailed(DomainError):
    """The account's age check estimated it may be under 18 (held for an ID review), or a moderator
    rejected its age: no coins, gifts, games or going live. The message says why and what to do."""

    code = "age_check_failed"
    status = 403
    message = _(
        "Our age check estimated you may be under 18, so buying coins, sending gifts, games and going live "
        "are paused. Upload a photo of your ID document under Age verification: a moderator will review it."
    )

    @classmethod
    def of(cls, user: "User") -> "AgeCheckFailed":
        """The error for a held or rejected account, with the message of its state."""
        details = {"age_verification": user.age_verification}
        if user.age_verification == user.AgeVerification.REJECTED:
            return cls(
                _(
                    "A moderator could not confirm from your ID that you are 18 or older, so this account "
                    "cannot buy coins, send gifts, play games or go live."
                ),
                details=details,
            )
        return cls(details={**details, "next_step": "upload_id_document"})


class AgeVerificationRequired(DomainError):
    """This needs a verified age (the selfie check or an ID review), and the account has none yet."""

    code = "age_verification_required"
    status = 403
    message = _(
        "This needs a verified age. Take the selfie age check under Age verification (it takes a minute), "
        "then try again."
    )


class PhoneVerificationRequired(DomainError):
    """Going live and money out (KYC, payout destinations, cash-outs) need a verified phone: a person
    Finance and moderators can reach, and not a free throwaway. `details.next_step`: phone_verify
    (POST /api/v1/me/phone/verify/ texts a code); `details.contact_verified`: whether an email is."""

    code = "phone_verification_required"
    status = 403
    message = _("This needs a verified phone number. Verify yours under Account (we text you a code), then try again.")


class LoginLocked(DomainError):
    """Too many wrong passwords for this account (apps.accounts.lockout); details.retry_after in seconds."""

    code = "login_locked"
    status = 429
    message = _("Too many failed sign-ins for this account; try again later.")


class RankTooLow(DomainError):
    code = "rank_too_low"
    status = 403
    message = _("Staff act only on accounts below their own role.")


class OwnRequest(DomainError):
    code = "own_request"
    status = 403
    message = _("Nobody reviews or decides a request of their own.")


class SmsUnavailable(DomainError):
    """The SMS provider could not be reached or answered nonsense (apps.accounts.sms)."""

    code = "sms_unavailable"
    status = 503
    message = _("Text messages cannot be sent right now. Try again in a few minutes, or use email.")


class SmsRejected(DomainError):
    """The SMS provider refused the message (details.provider_code: its documented response_code)."""

    code = "sms_rejected"
    status = 502
    message = _("The text message could not be sent to this number. Check it, or use email.")


class CodeInvalid(DomainError):
    code = "code_invalid"
    status = 400
    message = _("That code is not right. Check the latest code we sent.")


class CodeExpired(DomainError):
    code = "code_expired"
    status = 400
    message = _("That code has expired or was already used. Ask for a new one.")


class VerificationLocked(DomainError):
    """Too many wrong codes for this code, phone or address; details.retry_after in seconds when known."""

    code = "verification_locked"
    status = 429
    message = _("Too many wrong codes. Ask for a new code later.")


class CodeResendTooSoon(DomainError):
    code = "code_resend_too_soon"
    status = 429
    message = _("A code was sent moments ago. Wait a little before asking for another.")


class TooManyCodes(DomainError):
    code = "too_many_codes"
    status = 429
    message = _("Too many codes were sent to this number or address. Try again later.")


class ContactChangeRequired(DomainError):
    code = "contact_change_required"
    status = 409
    message = _("A verified phone or email is changed only through the contact change, confirmed on both.")


class NothingToVerify(DomainError):
    code = "nothing_to_verify"
    status = 409
    message = _("There is no unverified phone or email of that kind on this account.")


class ChangeNotFound(DomainError):
    code = "change_not_found"
    status = 404
    message = _("No such contact change is waiting for confirmation.")


class SecondFactorRequired(DomainError):
    """The password was right; the account has two-step sign-in. details.challenge goes to /auth/login/2fa/."""

    code = "second_factor_required"
    status = 401
    message = _("Enter the code from your authenticator app (or a recovery code) to finish signing in.")
    client_action = "Ask for the code, then POST it with details.challenge to /api/v1/auth/login/2fa/."


class SecondFactorInvalid(DomainError):
    code = "second_factor_invalid"
    status = 400
    message = _("That authenticator or recovery code is not valid.")


class TwoFactorState(DomainError):
    code = "two_factor_state"
    status = 409
    message = _("Two-step sign-in is not in a state that allows this.")
