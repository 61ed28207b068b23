from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from apps.core.exceptions import DomainError
from apps.core.i18n import translate_lazy


class InsufficientCoins(DomainError):
    code = "insufficient_coins"
    status = 409
    message: "str | Promise" = _("Not enough coins.")

    def __init__(self, message: "str | Promise | None" = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        if message is None and {"balance", "needed"} <= self.details.keys():
            self.message = translate_lazy(
                gettext_noop("Not enough coins: you have %(balance)s coins, need %(needed)s."),
                balance=self.details["balance"],
                needed=self.details["needed"],
            )


class InsufficientEarnings(DomainError):
    code = "insufficient_earnings"
    status = 409
    message = _("Not enough earnings.")


class DuplicateEntry(DomainError):
    code = "duplicate_entry"
    status = 409
    message = _("This movement was already recorded.")


class UnbalancedEntry(DomainError):
    code = "unbalanced_entry"
    status = 400
    message = _("A ledger entry must move coins between at least two accounts and sum to zero.")


class CashoutBelowMinimum(DomainError):
    code = "cashout_below_minimum"
    status = 400
    message = _("The cash-out is below the minimum.")


class CashoutNotPending(DomainError):
    code = "cashout_not_pending"
    status = 409
    message = _("This cash-out was already reviewed.")


class CashoutHeld(DomainError):
    code = "cashout_held"
    status = 409
    message = _("This host's cash-outs are on hold for review.")


class SpendingPaused(DomainError):
    code = "spending_paused"
    status = 409
    message = _(
        "You paused your spending. You can unpause it in Spending controls: spending resumes when the "
        "cool-off after your request is over."
    )
    client_action = "Show the message; the user can ask to unpause (it takes effect after the cool-off)."


class SpendingLimitReached(DomainError):
    """`details`: period (day or month), limit, spent, requested, resets_at."""

    code = "spending_limit_reached"
    status = 409
    message = _(
        "This would take you past the spending limit you set. Try a smaller amount, wait until the limit "
        "resets, or raise it in Spending controls (a raise takes effect after a cool-off)."
    )
    client_action = "Show the message with details.limit, details.spent and details.resets_at."


class ConfirmationRequired(DomainError):
    """A large gift from a new account: resend the same request with confirm=true."""

    code = "confirmation_required"
    status = 409
    message = _("This is a large gift for a new account. Check the amount and send again to confirm.")
    client_action = "Ask the user to confirm details.coins, then resend the same request with confirm=true."
