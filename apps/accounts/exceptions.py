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
