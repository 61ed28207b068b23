"""Review cases for Finance, opened by the velocity rules (apps.fraud.rules) with their evidence.

While a case is open, each host it names has a cash-out hold (apps.wallet): their cash-outs wait.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class FraudCase(models.Model):
    class Rule(models.TextChoices):
        NEW_ACCOUNT_BURST = "new_account_burst", "Large gifts from new accounts to a new host"
        GIFT_RING = "gift_ring", "Accounts gifting in a circle"
        TOPUP_CASHOUT_MIRROR = "topup_cashout_mirror", "Top-ups mirrored by a cash-out"

    class Status(models.TextChoices):
        OPEN = "open", "Open (cash-outs held)"
        CLEARED = "cleared", "Cleared: not fraud"
        CONFIRMED = "confirmed", "Confirmed fraud"

    rule = models.CharField(max_length=30, choices=Rule.choices)
    subject_key = models.CharField(
        max_length=200, help_text="What the rule found, in a stable form (a host id, a ring's members)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    hosts = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", help_text="Whose cash-outs wait.")
    summary = models.TextField(help_text="The evidence, readable.")
    evidence = models.JSONField(default=dict, help_text="The evidence, structured (ids, coins, times).")
    last_event_at = models.DateTimeField(help_text="The newest event in the evidence.")
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject_key"], condition=Q(status="open"), name="fraudcase_open_subject_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "opened_at"], name="fraudcase_status_opened_idx"),
            models.Index(fields=["rule", "subject_key", "decided_at"], name="fraudcase_rule_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"Fraud case #{self.pk} ({self.rule})"
