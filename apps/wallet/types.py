"""Plain types other apps pass to the wallet's services."""

from django.db import models


class AccountKind(models.TextChoices):
    """What an account holds. User kinds have an owner; the others are the platform's, one of each."""

    USER_COINS = "user_coins", "User coins (spendable)"
    HOST_EARNINGS = "host_earnings", "Host earnings"
    ISSUANCE = "issuance", "Issuance (coins sold or granted)"
    REVENUE = "revenue", "Platform revenue"
    GAME_POOL = "game_pool", "Game pool"
    OG_SALES = "og_sales", "OG sales"
    CASHOUT_HOLD = "cashout_hold", "Cash-outs awaiting review"
    PAYOUTS = "payouts", "Paid out to hosts"
    WRITE_OFF = "write_off", "Written off (refunded top-ups not recovered)"
    TAX_WITHHELD = "tax_withheld", "Tax withheld from payouts (owed to the tax office)"


USER_ACCOUNT_KINDS = (AccountKind.USER_COINS, AccountKind.HOST_EARNINGS)


class PayoutRail(models.TextChoices):
    """How a payout reaches the host: each rail has its own batch file."""

    ESEWA = "esewa", "eSewa wallet"
    KHALTI = "khalti", "Khalti wallet"
    BANK = "bank", "Bank account"
