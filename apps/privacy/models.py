"""A user's request to delete their account (its grace period, its undo and its final state), and
the exports of their own data."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.storage import private_storage


class AccountDeletion(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting out the grace period"
        CANCELLED = "cancelled", "Undone by the user"
        COMPLETED = "completed", "Final: the account is anonymised"

    # PROTECT: the user row is never deleted, it becomes the tombstone that keeps the ledger's owner.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=300, blank=True, help_text="Why the user left, if they said.")
    requested_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField(help_text="End of the grace period: the deletion becomes final after it.")
    # What the undo puts back (display name, bio); emptied when the deletion completes or is undone.
    restore = models.JSONField(default=dict, blank=True)
    streams_ended = models.PositiveIntegerField(default=0)
    reels_deleted = models.PositiveIntegerField(default=0)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    coins_forfeited = models.BigIntegerField(default=0, help_text="Spendable coins moved to platform revenue.")
    earnings_forfeited = models.BigIntegerField(default=0, help_text="Host earnings moved to platform revenue.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="pending"), name="account_deletion_one_pending_per_user"
            ),
            models.CheckConstraint(
                condition=Q(coins_forfeited__gte=0, earnings_forfeited__gte=0),
                name="account_deletion_forfeits_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="account_deletion_due_idx")]

    def __str__(self) -> str:
        return f"deletion of {self.user_id} ({self.status})"


def _export_path(instance: "DataExport", filename: str) -> str:
    return f"exports/{instance.user_id}/{filename}"


class DataExport(models.Model):
    """One export of a user's own data: a zip built by a Celery task in the private storage, fetched
    through short-lived signed links handed out only to its owner, deleted after DATA_EXPORT_KEEP_HOURS."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being built"
        READY = "ready", "Ready to download"
        FAILED = "failed", "Could not be built"
        EXPIRED = "expired", "Deleted after its time"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(storage=private_storage, upload_to=_export_path, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When the file is deleted.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="pending"), name="data_export_one_pending_per_user"
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="data_export_expiry_idx")]

    def __str__(self) -> str:
        return f"export {self.pk} of {self.user_id} ({self.status})"
