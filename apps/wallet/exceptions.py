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


class CashoutNotPayable(DomainError):
    """`details.reason`: hold_period (`details.payable_at`), destination (`details.status`) or kyc.

    The rules a payout batch applies before money leaves; no path (the admin included) skips them."""

    code = "cashout_not_payable"
    status = 409
    message = _(
        "This cash-out cannot be paid yet: its hold period has not ended, or its destination or the host's identity "
        "check is not confirmed."
    )


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


class KycRequired(DomainError):
    code = "kyc_required"
    status = 403
    message = _(
        "Cashing out needs an approved identity check. Submit your ID under Payouts and wait for Finance to approve it."
    )


class KycAlreadySubmitted(DomainError):
    """`details.status`: pending (wait for the decision) or approved (nothing to do)."""

    code = "kyc_already_submitted"
    status = 409
    message = _("Your identity check is already submitted or approved.")


class KycNotPending(DomainError):
    code = "kyc_not_pending"
    status = 409
    message = _("This identity check was already decided.")


class PayoutDestinationNotFound(DomainError):
    code = "payout_destination_not_found"
    status = 404
    message = _("No such payout destination of yours.")


class PayoutDestinationExists(DomainError):
    code = "payout_destination_exists"
    status = 409
    message = _("You already added this payout destination.")


class PayoutDestinationNotVerified(DomainError):
    """`details.status`: where the destination's confirmation stands."""

    code = "payout_destination_not_verified"
    status = 409
    message = _(
        "This payout destination is not confirmed yet. Type in the code from the small credit we sent to it, then "
        "try again."
    )


class PayoutDestinationNotAwaitingCode(DomainError):
    """`details.status`: pending_deposit (the credit is not paid yet), verified, failed or removed."""

    code = "payout_destination_not_awaiting_code"
    status = 409
    message = _("This payout destination is not waiting for a code.")
    client_action = "Reload the destination: a code can be typed in only while its status is awaiting_code."


class PayoutCodeWrong(DomainError):
    """`details.attempts_left`: wrong codes still allowed (0: the destination is refused; add it again)."""

    code = "payout_code_wrong"
    status = 400
    message = _("That code does not match the one in the credit we sent.")


class PayoutLineSettled(DomainError):
    """`details.status`: paid or failed."""

    code = "payout_line_settled"
    status = 409
    message = _("This payout line was already settled differently.")


class KycImageTooLarge(DomainError):
    code = "image_too_large"
    status = 413
    message = _("The images are too large.")


class PayoutDestinationInUse(DomainError):
    """`details.cashout_ids`: the host's cash-outs still on their way to it (empty when only its
    confirmation credit is in a batch Finance has not settled)."""

    code = "payout_destination_in_use"
    status = 409
    message = _("A payout to this destination is still on its way. Remove it once the cash-out is paid or returned.")


class PayoutDestinationRequired(DomainError):
    code = "payout_destination_required"
    status = 400
    message = _("You have several payout destinations: choose one with destination_id.")
