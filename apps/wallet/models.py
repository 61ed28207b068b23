"""The coin ledger: accounts, journal entries and their postings (double entry, integers only).

Every coin movement is one JournalEntry whose Postings sum to zero. An account's stored balance
equals the sum of its *applied* postings. Postings that can never fail (a credit, or any posting
to a platform account) may be appended unapplied and rolled into the balance later: that keeps a
popular host's row out of every gift's transaction. Debits of user-owned accounts are always
applied at once, under the account's row lock, so no user balance can go below zero.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from apps.core.storage import private_storage
from apps.wallet.types import USER_ACCOUNT_KINDS, AccountKind, PayoutRail


class Account(models.Model):
    Kind = AccountKind

    USER_KINDS = USER_ACCOUNT_KINDS

    kind = models.CharField(max_length=20, choices=Kind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="coin_accounts"
    )
    balance = models.BigIntegerField(default=0, help_text="Sum of the applied postings, in coins.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "kind"], condition=Q(owner__isnull=False), name="account_owner_kind_uniq"
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(owner__isnull=True), name="account_platform_kind_uniq"
            ),
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(balance__gte=0), name="account_user_balance_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(
                    owner__isnull=True,
                    kind__in=[
                        "issuance",
                        "revenue",
                        "game_pool",
                        "og_sales",
                        "cashout_hold",
                        "payouts",
                        "write_off",
                        "tax_withheld",
                    ],
                )
                | Q(owner__isnull=False, kind__in=["user_coins", "host_earnings"]),
                name="account_kind_matches_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.owner_id}" if self.owner_id else self.get_kind_display()

    @property
    def is_user_account(self) -> bool:
        return self.owner_id is not None


slug_validator = RegexValidator(r"^[a-z][a-z0-9_]{1,39}$", "A lower-case slug such as gift or topup.")


class JournalEntry(models.Model):
    """One business event that moved coins. Never edited or deleted: a correction is a new entry."""

    kind = models.CharField(max_length=40, validators=[slug_validator], help_text="What caused it: gift, topup, …")
    ref = models.CharField(max_length=100, help_text="The caller's reference, unique per kind (idempotency).")
    memo = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "journal entries"
        constraints = [models.UniqueConstraint(fields=["kind", "ref"], name="journal_entry_kind_ref_uniq")]

    REF_CONSTRAINT = "journal_entry_kind_ref_uniq"  # its violation tells a retry from other errors

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.ref}"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    # No single-column index: posting_account_id_idx (account, id) serves every lookup by account,
    # and each gift writes three postings, so each index less is work saved on the hot path.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_index=False)
    amount = models.BigIntegerField(help_text="Signed coins: positive credits the account, negative debits it.")
    applied = models.BooleanField(default=True, help_text="Already included in the account's stored balance.")

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_non_zero")]
        indexes = [
            models.Index(fields=["account", "id"], name="posting_account_id_idx"),
            models.Index(fields=["account"], condition=Q(applied=False), name="posting_unapplied_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.amount:+d} → {self.account_id}"


class CoinGrant(models.Model):
    """A grant of coins by Finance staff (a promotion, a goodwill gesture), recorded with its reason."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coin_grants")
    amount = models.BigIntegerField()
    reason = models.CharField(max_length=300)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="coin_grant_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} coins to {self.user_id}"


class KycSubmission(models.Model):
    """A host's identity details and ID image, reviewed by Finance before their first cash-out.

    Never edited after a decision: a refused host submits again (a new row), so the rows are the
    audit trail of who decided what and when. The images are private (signed links only).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for Finance"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class DocumentType(models.TextChoices):
        CITIZENSHIP = "citizenship", "Citizenship certificate"
        NATIONAL_ID = "national_id", "National ID card"
        PASSPORT = "passport", "Passport"
        DRIVING_LICENCE = "driving_licence", "Driving licence"

    class FaceMatch(models.TextChoices):
        """The face on the ID photo against the host's age-check selfie (apps.accounts.faces): evidence
        for Finance, never a decision."""

        PENDING = "pending", "Not compared yet"
        MATCH = "match", "Same person"
        NO_MATCH = "no_match", "Different person?"
        NO_FACE = "no_face", "No face found on the ID photo"
        SEVERAL_FACES = "several_faces", "Several faces on the ID photo"
        NO_SELFIE = "no_selfie", "No verified selfie to compare with"
        UNREADABLE = "unreadable", "The ID photo could not be read"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kyc_submissions")
    legal_name = models.CharField(max_length=120)
    document_type = models.CharField(max_length=20, choices=DocumentType.choices)
    document_number = models.CharField(max_length=40)
    date_of_birth = models.DateField()
    id_image = models.ImageField(upload_to="wallet/kyc/ids/%Y/%m/", storage=private_storage)
    selfie = models.ImageField(upload_to="wallet/kyc/selfies/%Y/%m/", storage=private_storage)
    face_match = models.CharField(max_length=14, choices=FaceMatch.choices, default=FaceMatch.PENDING)
    face_distance = models.FloatField(
        null=True, blank=True, help_text="descriptor distance of the closest face on the ID to the selfie's"
    )
    face_model_version = models.CharField(max_length=120, blank=True)
    face_checked_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "KYC submission"
        constraints = [
            # One open submission per user: a second waits for the first decision.
            models.UniqueConstraint(fields=["user"], condition=Q(status="pending"), name="kyc_one_pending_per_user"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="kyc_status_created_idx")]

    def __str__(self) -> str:
        return f"KYC #{self.pk} of {self.user_id}"


class PayoutDestination(models.Model):
    """Where a host's payouts go. Usable once confirmed: a small credit carrying a code in its remark
    is paid to it in a payout batch, and the host types the code back (a penny drop)."""

    Rail = PayoutRail

    class Status(models.TextChoices):
        PENDING_DEPOSIT = "pending_deposit", "Confirmation credit not yet paid"
        AWAITING_CODE = "awaiting_code", "Waiting for the host's code"
        VERIFIED = "verified", "Verified"
        FAILED = "failed", "Could not be verified"
        REMOVED = "removed", "Removed by the host"

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_destinations")
    rail = models.CharField(max_length=10, choices=PayoutRail.choices)
    account_id = models.CharField(max_length=40, help_text="eSewa/Khalti mobile number, or the bank account number.")
    account_name = models.CharField(max_length=120, help_text="The name the account is registered under.")
    bank_code = models.CharField(max_length=20, blank=True)
    branch_code = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING_DEPOSIT)
    verify_amount_paisa = models.PositiveIntegerField()
    # Stored as sent: Finance puts it in the credit's remark, so whoever can read this row could read the
    # remark anyway; it proves only that the host sees the account's statement.
    verify_code = models.CharField(max_length=6)
    verify_attempts = models.PositiveSmallIntegerField(default=0)
    # Where a cash-out that names no destination goes: the first one verified, then (when the host
    # removes it) the latest verified of those left. Maintained by the services.
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["host"], condition=Q(is_default=True), name="payout_destination_one_default"
            ),
            models.UniqueConstraint(
                fields=["host", "rail", "account_id", "bank_code"],
                condition=~Q(status__in=["failed", "removed"]),
                name="payout_destination_live_uniq",
            ),
        ]
        indexes = [models.Index(fields=["host", "status"], name="payout_dest_host_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_rail_display()} {self.account_id[-4:]:>4} of {self.host_id}"


class CashoutRequest(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for Finance"
        BATCHED = "batched", "In a payout batch"
        APPROVED = "approved", "Approved and paid"
        REJECTED = "rejected", "Rejected (earnings returned)"
        FAILED = "failed", "Payout failed (earnings returned)"

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cashout_requests")
    coins = models.BigIntegerField()
    paisa_per_coin = models.PositiveIntegerField(help_text="Conversion rate when requested.")
    amount_paisa = models.BigIntegerField()
    destination = models.ForeignKey(
        PayoutDestination, null=True, blank=True, on_delete=models.PROTECT, related_name="cashouts"
    )
    tax_coins = models.BigIntegerField(default=0, help_text="Earnings withheld as tax (rate when requested).")
    tax_paisa = models.BigIntegerField(default=0)
    net_paisa = models.BigIntegerField(null=True, blank=True, help_text="What the host receives.")
    payable_at = models.DateTimeField(null=True, blank=True, help_text="End of the hold period.")
    provider_ref = models.CharField(max_length=100, blank=True, help_text="The bank's or wallet's reference.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(coins__gt=0), name="cashout_coins_positive"),
            models.CheckConstraint(condition=Q(amount_paisa__gte=0), name="cashout_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(tax_coins__gte=0) & Q(tax_coins__lte=F("coins")), name="cashout_tax_within_coins"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="cashout_status_created_idx")]

    def __str__(self) -> str:
        return f"Cash-out #{self.pk}: {self.coins} coins"


class PayoutBatch(models.Model):
    """The payouts of one rail sent to the provider together, as one file Finance uploads."""

    Rail = PayoutRail

    class Status(models.TextChoices):
        OPEN = "open", "Lines waiting for the provider"
        CLOSED = "closed", "Every line paid or failed"

    rail = models.CharField(max_length=10, choices=PayoutRail.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    exported_at = models.DateTimeField(null=True, blank=True, help_text="When the file was last downloaded.")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "payout batches"

    def __str__(self) -> str:
        return f"Payout batch #{self.pk} ({self.rail})"


class PayoutLine(models.Model):
    """One transfer in a batch: a cash-out's net amount, or a destination's confirmation credit."""

    class Kind(models.TextChoices):
        CASHOUT = "cashout", "Cash-out"
        VERIFICATION = "verification", "Destination confirmation credit"

    class Status(models.TextChoices):
        PENDING = "pending", "Sent to the provider"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    destination = models.ForeignKey(PayoutDestination, on_delete=models.PROTECT, related_name="payout_lines")
    cashout = models.OneToOneField(
        CashoutRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="payout_line"
    )
    amount_paisa = models.BigIntegerField()
    remark = models.CharField(max_length=60)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    provider_ref = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_paisa__gt=0), name="payout_line_amount_positive"),
            models.CheckConstraint(
                condition=Q(kind="cashout", cashout__isnull=False) | Q(kind="verification", cashout__isnull=True),
                name="payout_line_kind_matches_cashout",
            ),
            # A destination's confirmation credit is sent once while it waits (a failed one may be resent).
            models.UniqueConstraint(
                fields=["destination"],
                condition=Q(kind="verification") & ~Q(status="failed"),
                name="payout_line_one_live_verification",
            ),
        ]
        indexes = [models.Index(fields=["batch", "status"], name="payout_line_batch_status_idx")]

    def __str__(self) -> str:
        return f"Payout line #{self.pk} ({self.kind})"


class CashoutHold(models.Model):
    """A reason a host's cash-outs must wait: while any hold on the host is active (not released), no
    cash-out of theirs can be approved. Whoever places it names it by (source, ref), which makes
    placing it again a no-op."""

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cashout_holds")
    source = models.CharField(max_length=40, validators=[slug_validator], help_text="Who placed it: fraud_case, …")
    ref = models.CharField(max_length=100, help_text="The placer's reference, unique per source and host.")
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    release_note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "ref", "host"], name="cashout_hold_source_ref_host_uniq")
        ]
        indexes = [
            models.Index(fields=["host"], condition=Q(released_at__isnull=True), name="cashout_hold_active_idx"),
        ]

    def __str__(self) -> str:
        return f"Hold on {self.host_id}: {self.reason}"


class SpendingControls(models.Model):
    """A user's own limits on the coins they spend on gifts and games, with the running tally.

    Lowering a limit or pausing takes effect at once; a raise or an unpause is scheduled
    (`*_next_at`, settings.SPENDING_COOL_OFF_HOURS later) and applies when it is due. The row is
    created with the platform defaults (settings.SPENDING_DEFAULT_*) on first use. Every spend that
    counts locks this row first (apps.wallet.spending), so the tally is read and moved one spend
    at a time.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="spending_controls"
    )
    daily_limit = models.BigIntegerField(help_text="Coins a day (local calendar day).")
    monthly_limit = models.BigIntegerField(help_text="Coins a calendar month.")
    paused = models.BooleanField(default=False, help_text="No spending at all until unpaused (after the cool-off).")
    daily_limit_next = models.BigIntegerField(null=True, blank=True, help_text="A raise waiting for the cool-off.")
    daily_limit_next_at = models.DateTimeField(null=True, blank=True)
    monthly_limit_next = models.BigIntegerField(null=True, blank=True, help_text="A raise waiting for the cool-off.")
    monthly_limit_next_at = models.DateTimeField(null=True, blank=True)
    unpause_at = models.DateTimeField(null=True, blank=True, help_text="When a requested unpause takes effect.")
    tally_day = models.DateField(null=True, blank=True, help_text="The day `spent_day` counts.")
    spent_day = models.BigIntegerField(default=0)
    tally_month = models.DateField(null=True, blank=True, help_text="The first day of the month `spent_month` counts.")
    spent_month = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "spending controls"
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_limit__gte=0) & Q(monthly_limit__gte=0), name="spending_limits_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(spent_day__gte=0) & Q(spent_month__gte=0), name="spending_tally_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Spending controls of {self.user_id}"
