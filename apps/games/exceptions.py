from django.utils.translation import gettext_lazy as _

from apps.accounts import exceptions as accounts_exceptions
from apps.core.exceptions import DomainError


class GameNotFound(DomainError):
    code = "game_not_found"
    status = 404
    message = _("No such game.")


class GameUnavailable(DomainError):
    code = "game_unavailable"
    status = 409
    message = _("This game cannot be played right now.")


class BetOutOfRange(DomainError):
    code = "bet_out_of_range"
    status = 400
    message = _("The bet is outside this game's limits.")


class InvalidChoice(DomainError):
    code = "invalid_choice"
    status = 400
    message = _("Pick one of this game's choices.")


class DailyLossLimitReached(DomainError):
    code = "daily_loss_limit"
    status = 409
    message = _("This bet could take today's losses past your daily limit.")


class AgeVerificationRequired(accounts_exceptions.AgeVerificationRequired):
    message = _("Games need a verified age. Take the selfie age check under Age verification, then play.")


class PrizeTableInvalid(DomainError):
    code = "prize_table_invalid"
    status = 400
    message = _("The prize table cannot be published.")


class RoundNotFound(DomainError):
    code = "round_not_found"
    status = 404
    message = _("No such round.")
