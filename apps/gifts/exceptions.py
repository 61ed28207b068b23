from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import DomainError


class GiftUnavailable(DomainError):
    code = "gift_unavailable"
    status = 404
    message = _("This gift does not exist or is no longer available.")


class GiftNeedsOg(DomainError):
    code = "gift_og_only"
    status = 403
    message = _("Only OG members can send this gift.")


class CannotGiftSelf(DomainError):
    code = "cannot_gift_self"
    status = 400
    message = _("You cannot send a gift to your own stream.")


class QuantityOutOfRange(DomainError):
    code = "invalid_quantity"
    status = 400
    message = _("Send between 1 and 999 gifts at a time.")


class LeaderboardUnknown(DomainError):
    code = "invalid"
    status = 400
    message = _("Unknown leaderboard period.")
