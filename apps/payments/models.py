"""Coin packages, payment attempts and the raw record of every exchange with a gateway.

A Payment is one attempt to buy one package through one gateway. Its coins are credited only by
`services.payment_verify` after the gateway's own status API confirmed it, through one wallet ledger
entry (kind "topup", ref = payment id) that the ledger's unique (kind, ref) makes happen at most once.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class CoinPackage(models.Model):
    name = models.CharField(max_length=60)
    price_paisa = models.BigIntegerField(help_text="Price in paisa (NPR 100 = 10000).")
    coins = models.BigIntegerField()
    bonus_coins = models.BigIntegerField(default=0)
    active = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0, help_text="Position in the app's list (lowest first).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("order", "price_paisa", "id")
        constraints = [
            models.CheckConstraint(condition=Q(price_paisa__gt=0), name="coinpackage_price_positive"),
            models.CheckConstraint(condition=Q(coins__gt=0), name="coinpackage_coins_positive"),
            models.CheckConstraint(condition=Q(bonus_coins__gte=0), name="coinpackage_bonus_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.coins}+{self.bonus_coins} coins, NPR {self.price_paisa / 100:g})"


class Gateway(models.TextChoices):
    ESEWA = "esewa", "eSewa"
    KHALTI = "khalti", "Khalti"


class Payment(models.Model):
    class Status(models.TextChoices):
        INITIATED = "initiated", "Initiated (payer sent to the gateway)"
        PENDING = "pending", "Pending at the gateway"
        COMPLETED = "completed", "Completed (coins credited)"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled by the payer"
        EXPIRED = "expired", "Expired"
        REFUNDED = "refunded", "Refunded (coins taken back)"
        NEEDS_REVIEW = "needs_review", "Needs review by Finance"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    package = models.ForeignKey(CoinPackage, null=True, on_delete=models.SET_NULL, related_name="payments")
    # Snapshot of the package when bought: later edits of the catalogue never change a payment.
    package_name = models.CharField(max_length=60)
    coins = models.BigIntegerField()
    bonus_coins = models.BigIntegerField(default=0)
    gateway = models.CharField(max_length=10, choices=Gateway.choices)
    amount_paisa = models.BigIntegerField()
    merchant_ref = models.CharField(
        max_length=64,
        unique=True,
        help_text="Our id at the gateway: eSewa transaction_uuid / Khalti purchase_order_id.",
    )
    gateway_ref = models.CharField(max_length=64, null=True, blank=True, unique=True, help_text="Khalti pidx.")
    gateway_txn_id = models.CharField(
        max_length=64, null=True, blank=True, unique=True, help_text="eSewa ref_id / Khalti transaction_id."
    )
    checkout_url = models.URLField(max_length=500, blank=True, help_text="Khalti payment_url.")
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.INITIATED)
    review_reason = models.CharField(max_length=300, blank=True)
    last_gateway_status = models.CharField(max_length=40, blank=True)
    verify_count = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    credit_entry = models.OneToOneField(
        "wallet.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund_entry = models.OneToOneField(
        "wallet.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund_unrecovered_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the gateway reported a full refund whose coins the payer had already spent (for Finance).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="payment_user_idem_key_uniq"),
            models.CheckConstraint(condition=Q(amount_paisa__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(coins__gt=0), name="payment_coins_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="payment_status_created_idx"),
            models.Index(fields=["user", "created_at"], name="payment_user_created_idx"),
            models.Index(fields=["gateway", "created_at"], name="payment_gateway_created_idx"),
        ]
        permissions = [
            ("reverify_payment", "Can ask the gateway again about a payment"),
            ("settle_refund", "Can settle a refunded top-up whose coins were spent"),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} ({self.gateway}, {self.status})"

    @property
    def total_coins(self) -> int:
        return self.coins + self.bonus_coins


class PaymentReview(Payment):
    """The review queue: payments Finance must look at (mismatches, ambiguous answers, spent refunds)."""

    class Meta:
        proxy = True
        verbose_name = "payment to review"
        verbose_name_plural = "review queue"


class DailyTotal(Payment):
    """Admin entry point for the daily totals per gateway (a report over Payment, no table)."""

    class Meta:
        proxy = True
        verbose_name = "daily total"
        verbose_name_plural = "daily totals per gateway"


class GatewayExchange(models.Model):
    """One request to or from a gateway, kept verbatim for audit (never a secret: no auth header)."""

    class Kind(models.TextChoices):
        INITIATE = "initiate", "Initiate (server to gateway)"
        STATUS = "status", "Status / lookup (server to gateway)"
        CALLBACK = "callback", "Callback (gateway via the payer's browser)"
        FORM = "form", "Signed form handed to the payer"

    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="exchanges")
    gateway = models.CharField(max_length=10, choices=Gateway.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=1000)
    request_data = models.JSONField(default=dict, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=300, blank=True, help_text="What we concluded from it.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["payment", "id"], name="gwexchange_payment_idx")]

    def __str__(self) -> str:
        return f"{self.gateway} {self.kind} #{self.pk}"
