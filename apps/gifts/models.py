"""The gift catalogue and the record of every gift sent (the host's statement is read from it)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Gift(models.Model):
    class Category(models.TextChoices):
        CLASSIC = "classic", "Classic"
        NEPALI = "nepali", "Nepali"
        LUXURY = "luxury", "Luxury"
        FESTIVAL = "festival", "Festival"

    name = models.CharField(max_length=60, unique=True)
    coin_price = models.PositiveIntegerField(help_text="Coins per gift.")
    icon_url = models.CharField(max_length=300, help_text="Static image shown in the gift tray.")
    animation_url = models.CharField(max_length=300, blank=True, help_text="Lottie JSON played in the room.")
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.CLASSIC)
    og_only = models.BooleanField(default=False, help_text="Only members with an active OG tier may send it.")
    is_active = models.BooleanField(default=True, help_text="Inactive gifts are hidden and cannot be sent.")
    order = models.PositiveSmallIntegerField(default=100, help_text="Position in the tray (lower first).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order", "coin_price", "id"]
        constraints = [models.CheckConstraint(condition=Q(coin_price__gt=0), name="gift_coin_price_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.coin_price} coins)"


class GiftSend(models.Model):
    """One send of `quantity` gifts to a stream's host, with the split recorded at the rate in force."""

    # The composite indexes below lead with sender, host and stream: no single-column FK indexes, so
    # each send maintains fewer indexes. Gifts are retired, never deleted, so gift needs none.
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gifts_sent", db_index=False
    )
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="gifts_received", db_index=False
    )
    stream = models.ForeignKey("live.Stream", on_delete=models.PROTECT, related_name="gift_sends", db_index=False)
    gift = models.ForeignKey(Gift, on_delete=models.PROTECT, related_name="sends", db_index=False)
    quantity = models.PositiveSmallIntegerField()
    coins = models.BigIntegerField(help_text="Coins the sender paid: price × quantity.")
    host_share = models.BigIntegerField(help_text="Coins credited to the host's earnings.")
    platform_share = models.BigIntegerField(help_text="Coins credited to platform revenue.")
    rate = models.PositiveSmallIntegerField(help_text="Host share in percent when sent.")
    entry = models.OneToOneField("wallet.JournalEntry", on_delete=models.PROTECT, related_name="+")
    balance_after = models.BigIntegerField(
        null=True, blank=True, help_text="The sender's coins right after the send (a retry answers with it)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1, quantity__lte=999), name="gift_send_quantity_range"),
            models.CheckConstraint(condition=Q(coins__gt=0), name="gift_send_coins_positive"),
            models.CheckConstraint(
                condition=Q(host_share__gte=0, platform_share__gte=0, coins=F("host_share") + F("platform_share")),
                name="gift_send_split_adds_up",
            ),
            models.CheckConstraint(condition=~Q(sender=F("host")), name="gift_send_not_self"),
        ]
        indexes = [
            # the host's statement, and top hosts by period
            models.Index(fields=["host", "created_at"], name="gift_send_host_created_idx"),
            models.Index(fields=["sender", "created_at"], name="gift_send_sender_created_idx"),
            # top gifters of a stream and the stream's totals, without touching the table
            models.Index(
                fields=["stream", "sender"], include=["coins", "quantity"], name="gift_send_stream_sender_idx"
            ),
            # today's / this week's leaderboards
            models.Index(fields=["created_at"], name="gift_send_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity}× gift {self.gift_id} from {self.sender_id} to {self.host_id}"
