from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    """What a notification is about; each kind can be switched off in the user's preferences."""

    GO_LIVE = "go_live", "Someone you follow went live"
    STREAM_REMINDER = "stream_reminder", "A scheduled stream is about to start"
    GIFT_RECEIVED = "gift_received", "Gifts received"
    NEW_FOLLOWER = "new_follower", "New followers"
    MODERATION_DECISION = "moderation_decision", "Moderation decisions"
    APPEAL_OUTCOME = "appeal_outcome", "Appeal outcomes"
    PAYMENT_RESULT = "payment_result", "Top-up results"
    CASHOUT_RESULT = "cashout_result", "Cash-out results"
    # Asked for by the user: no preference switches it off.
    DATA_EXPORT = "data_export", "Your data export is ready"


class Device(models.Model):
    """An app install that can receive pushes: its FCM registration token belongs to the user signed
    in on it now (a token registered again by someone else moves to them)."""

    class Platform(models.TextChoices):
        ANDROID = "android", "Android"
        IOS = "ios", "iOS"
        WEB = "web", "Web"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_devices")
    token = models.CharField(max_length=512, unique=True)
    platform = models.CharField(max_length=8, choices=Platform.choices)
    locale = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user"], name="notif_device_user_idx")]

    def __str__(self) -> str:
        return f"{self.platform} device of {self.user_id}"


class Preference(models.Model):
    """One user's push settings: a switch per kind and quiet hours in Nepal time (pushes are held
    back then; the inbox still gets everything)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_preference")
    go_live = models.BooleanField(default=True)
    stream_reminder = models.BooleanField(default=True)
    gift_received = models.BooleanField(default=True)
    new_follower = models.BooleanField(default=True)
    moderation_decision = models.BooleanField(default=True)
    appeal_outcome = models.BooleanField(default=True)
    payment_result = models.BooleanField(default=True)
    cashout_result = models.BooleanField(default=True)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | models.Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="notif_pref_quiet_both_or_none",
            )
        ]

    def __str__(self) -> str:
        return f"push preferences of {self.user_id}"


class Notification(models.Model):
    """An inbox item. Gifts and new followers arriving within a window join one item (`count` grows,
    `group_key` finds the open one); `params` holds what the text needs, rendered in the reader's
    language when read."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    params = models.JSONField(default=dict)
    count = models.PositiveIntegerField(default=1)
    group_key = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    read_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notif_user_created_idx"),
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="notif_user_unread_idx"),
            models.Index(fields=["user", "group_key", "-created_at"], name="notif_user_group_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"
