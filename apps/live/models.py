import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_channel_name() -> str:
    """An unguessable Agora channel name (letters and digits, well under Agora's 64 bytes)."""
    return "hb" + secrets.token_hex(16)


class Stream(models.Model):
    class Status(models.TextChoices):
        PREPARING = "preparing", "Preparing"
        LIVE = "live", "Live"
        ENDED = "ended", "Ended"
        ENDED_BY_MODERATION = "ended_by_moderation", "Ended by moderation"

    ACTIVE_STATUSES = (Status.PREPARING, Status.LIVE)

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="streams")
    title = models.CharField(max_length=120)
    category = models.CharField(max_length=40, blank=True, db_index=True)
    cover = models.ImageField(upload_to="covers/%Y/%m/", blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREPARING)
    channel_name = models.CharField(max_length=64, unique=True, default=new_channel_name, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    current_viewers = models.PositiveIntegerField(default=0)
    peak_viewers = models.PositiveIntegerField(default=0)
    gift_coins_total = models.BigIntegerField(default=0)
    gifts_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # A host has at most one stream that is preparing or live.
            models.UniqueConstraint(
                fields=["host"], condition=Q(status__in=["preparing", "live"]), name="stream_one_active_per_host"
            ),
        ]
        indexes = [models.Index(fields=["status", "-current_viewers"], name="stream_status_viewers_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE
