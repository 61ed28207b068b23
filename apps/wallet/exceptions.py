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
