"""OG membership: tiers people buy with coins, each user's membership, and the records of purchases
and daily bonuses (evidence: every coin they moved is a ledger entry they point at)."""

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

chat_color_validator = RegexValidator(r"^#[0-9A-Fa-f]{6}$", "A colour such as #FFB400.")


class OgTier(models.Model):
    """A tier on sale. Edited by ops in the admin; a higher level outranks a lower one."""

    level = models.PositiveSmallIntegerField(unique=True, validators=[MinValueValidator(1)])
    name = models.CharField(max_length=40)
    price_coins = models.BigIntegerField(validators=[MinValueValidator(1)], help_text="Price of one period, in coins.")
    duration_days = models.PositiveIntegerField(validators=[MinValueValidator(1)], help_text="Length of one period.")
    daily_bonus_coins = models.BigIntegerField(
        default=0, validators=[MinValueValidator(0)], help_text="Coins granted to each member every day."
    )
    badge = models.CharField(max_length=100, help_text="Badge asset key shown next to the member's name.")
    entrance_effect = models.CharField(max_length=100, blank=True, help_text="Effect played when they enter a room.")
    og_only_gifts = models.BooleanField(default=False, help_text="Members of this tier may send OG-only gifts.")
    chat_color = models.CharField(max_length=7, default="#FFFFFF", validators=[chat_color_validator])
    is_active = models.BooleanField(default=True, help_text="On sale. Existing members keep their tier either way.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["level"]
        verbose_name = "OG tier"
        constraints = [
            models.CheckConstraint(condition=Q(price_coins__gt=0), name="og_tier_price_positive"),
            models.CheckConstraint(condition=Q(duration_days__gt=0), name="og_tier_duration_positive"),
            models.CheckConstraint(condition=Q(daily_bonus_coins__gte=0), name="og_tier_bonus_non_negative"),
        ]

    def __str__(self) -> str:
        return f"OG {self.level} {self.name}"


class OgMembership(models.Model):
    """A user's membership: one row per user, reused when they buy again after it expired.

    `paid_price_coins`/`paid_duration_days` snapshot the tier's price and period at the latest
    purchase: the unused time is valued at that rate when the member upgrades.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="og_membership")
    tier = models.ForeignKey(OgTier, on_delete=models.PROTECT, related_name="memberships")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    paid_price_coins = models.BigIntegerField()
    paid_duration_days = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OG membership"
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("started_at")), name="og_membership_period"),
            models.CheckConstraint(condition=Q(paid_duration_days__gt=0), name="og_membership_paid_duration"),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="og_membership_status_exp_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.tier_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class OgPurchase(models.Model):
    """One buy, renewal or upgrade, with the coins it moved (evidence; never edited)."""

    class Kind(models.TextChoices):
        BUY = "buy", "Buy"
        RENEW = "renew", "Renew"
        UPGRADE = "upgrade", "Upgrade"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="og_purchases")
    tier = models.ForeignKey(OgTier, on_delete=models.PROTECT, related_name="purchases")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    previous_tier = models.ForeignKey(OgTier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    price_coins = models.BigIntegerField(help_text="List price of the tier at the time.")
    credit_coins = models.BigIntegerField(default=0, help_text="Value of the unused time of the previous tier.")
    charged_coins = models.BigIntegerField(help_text="Coins taken: price minus credit, never below 0.")
    expires_at = models.DateTimeField(help_text="Membership expiry after this purchase.")
    entry = models.OneToOneField(
        "wallet.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="og_purchase"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OG purchase"
        constraints = [
            models.CheckConstraint(condition=Q(charged_coins__gte=0), name="og_purchase_charged_non_negative"),
            models.CheckConstraint(condition=Q(credit_coins__gte=0), name="og_purchase_credit_non_negative"),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="og_purchase_user_created_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.tier_id} by {self.user_id}"


class OgDailyBonus(models.Model):
    """The daily bonus a member received on a (local) day: unique per membership and day."""

    membership = models.ForeignKey(OgMembership, on_delete=models.PROTECT, related_name="bonuses")
    tier = models.ForeignKey(OgTier, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    coins = models.BigIntegerField()
    entry = models.OneToOneField("wallet.JournalEntry", on_delete=models.PROTECT, related_name="og_daily_bonus")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OG daily bonus"
        verbose_name_plural = "OG daily bonuses"
        constraints = [
            models.UniqueConstraint(fields=["membership", "day"], name="og_bonus_membership_day_uniq"),
            models.CheckConstraint(condition=Q(coins__gt=0), name="og_bonus_coins_positive"),
        ]
        indexes = [models.Index(fields=["day"], name="og_bonus_day_idx")]

    def __str__(self) -> str:
        return f"{self.membership_id} {self.day}: {self.coins}"
