"""A user's request to delete their account: its grace period, its undo and its final state."""

from django.conf import settings
from django.db import models
from django.db.models import Q


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
