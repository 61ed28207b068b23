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
