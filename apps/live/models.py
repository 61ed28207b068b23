import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.search import search_text as search_key


def new_channel_name() -> str:
    """An unguessable Agora channel name (letters and digits, well under Agora's 64 bytes)."""
    return "hb" + secrets.token_hex(16)


class Category(models.Model):
    """An entry of the stream category catalogue, managed in the admin. Streams and schedules point at
    it by slug (the API's `category` value), so the slug never changes once created; retire an entry
    by deactivating it (streams keep it, new ones cannot pick it)."""

    slug = models.SlugField(max_length=40, unique=True, help_text="What the apps send: lowercase, never changed.")
    name_en = models.CharField("name (English)", max_length=60)
    name_ne = models.CharField("name (Nepali)", max_length=60)
    icon = models.CharField(max_length=16, blank=True, help_text="An emoji shown beside the name (optional).")
    position = models.PositiveSmallIntegerField(default=100, help_text="Lower first in the apps' list.")
    is_active = models.BooleanField("active", default=True, help_text="Inactive ones cannot be chosen any more.")

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return f"{self.name_en} / {self.name_ne}"

    def name_in(self, language: str | None) -> str:
        return self.name_ne if (language or "").split("-")[0] == "ne" and self.name_ne else self.name_en


class Stream(models.Model):
    class Status(models.TextChoices):
        PREPARING = "preparing", "Preparing"
        LIVE = "live", "Live"
        ENDED = "ended", "Ended"
        ENDED_BY_MODERATION = "ended_by_moderation", "Ended by moderation"

    class ChatMode(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        FOLLOWERS = "followers", "Followers only"
        OG = "og", "OG members only"

    ACTIVE_STATUSES = (Status.PREPARING, Status.LIVE)
    ENDED_STATUSES = (Status.ENDED, Status.ENDED_BY_MODERATION)

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="streams")
    title = models.CharField(max_length=120)
    category = models.ForeignKey(
        Category,
        to_field="slug",
        db_column="category",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="streams",
    )
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
    likes_total = models.BigIntegerField(default=0)
    chat_mode = models.CharField(max_length=10, choices=ChatMode.choices, default=ChatMode.EVERYONE)
    slow_mode_seconds = models.PositiveSmallIntegerField(default=0)
    pinned_message = models.JSONField(null=True, blank=True)
    # Set while moderation reviews a possible minor on the stream: gift sends to it are refused.
    gifting_paused_at = models.DateTimeField(null=True, blank=True)
    # The romanised search key of the title and the host's names (apps.core.search): kept in step by
    # save(), and by apps.live.search when the host renames.
    search_text = models.TextField(blank=True, default="", editable=False)

    class Meta:
        constraints = [
            # A host has at most one stream that is preparing or live.
            models.UniqueConstraint(
                fields=["host"], condition=Q(status__in=["preparing", "live"]), name="stream_one_active_per_host"
            ),
        ]
        # The live list's ranking (apps.live.selectors.stream_list_live).
        indexes = [models.Index(fields=["status", "-current_viewers", "-id"], name="stream_status_rank_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "title" in update_fields:
            self.search_text = search_key(self.title, self.host.username, self.host.display_name)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE

    @property
    def category_slug(self) -> str:
        return self.category_id or ""


class StreamViewer(models.Model):
    """A viewer who joined a stream through the API (one row per viewer and stream; rejoining reopens it)."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="viewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stream_views")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "user"], name="streamviewer_stream_user_uniq")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.stream_id}"


class StreamKick(models.Model):
    """A viewer the host (or a moderator) removed: no token, no room, no rejoin for that stream."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="kicks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stream_kicks")
    kicked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "user"], name="streamkick_stream_user_uniq")]

    def __str__(self) -> str:
        return f"{self.user_id} kicked from {self.stream_id}"


class StreamMute(models.Model):
    """A viewer the host muted in the stream's chat (until a time, or for the rest of the stream)."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="mutes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stream_mutes")
    muted_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stream", "user"], name="streammute_stream_user_uniq")]

    def __str__(self) -> str:
        return f"{self.user_id} muted in {self.stream_id}"


def new_linkcast_channel_name() -> str:
    return "lc" + secrets.token_hex(16)


class LinkCast(models.Model):
    """Two live hosts broadcasting together on a shared Agora channel."""

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ACTIVE = "active", "Active"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        ENDED = "ended", "Ended"

    OPEN_STATUSES = (Status.INVITED, Status.ACTIVE)

    host_stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="linkcasts_hosted")
    guest_stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="linkcasts_joined")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INVITED)
    channel_name = models.CharField(max_length=64, unique=True, default=new_linkcast_channel_name, editable=False)
    host_audio_muted = models.BooleanField(default=False)
    guest_audio_muted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["host_stream"], condition=Q(status__in=["invited", "active"]), name="linkcast_one_open_per_host"
            ),
            models.UniqueConstraint(
                fields=["guest_stream"],
                condition=Q(status__in=["invited", "active"]),
                name="linkcast_one_open_per_guest",
            ),
            models.CheckConstraint(condition=~Q(host_stream=models.F("guest_stream")), name="linkcast_two_streams"),
        ]

    def __str__(self) -> str:
        return f"LinkCast #{self.pk} {self.host_stream_id}+{self.guest_stream_id}"

    @property
    def stream_ids(self) -> tuple[int, int]:
        """Both streams: the inviting host's, then the guest's (their rooms hear the LinkCast's events)."""
        return self.host_stream_id, self.guest_stream_id


class PkBattle(models.Model):
    """A timed gift contest between the two hosts of an active LinkCast.

    The totals and winner are written once, when the battle ends, from GiftSend: the gifts to each
    side's stream with created_at in [started_at, ends_at).
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    linkcast = models.ForeignKey(LinkCast, on_delete=models.CASCADE, related_name="pk_battles")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    duration_seconds = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    ended_at = models.DateTimeField(null=True, blank=True)
    host_coins = models.BigIntegerField(default=0, help_text="Gift coins to the main host's stream.")
    guest_coins = models.BigIntegerField(default=0, help_text="Gift coins to the guest's stream.")
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty after an end: a draw (or cancelled).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["linkcast"], condition=Q(status="running"), name="pkbattle_one_running_per_linkcast"
            ),
        ]
        # the sweep's overdue lookup
        indexes = [models.Index(fields=["ends_at"], condition=Q(status="running"), name="pkbattle_running_ends_idx")]

    def __str__(self) -> str:
        return f"PK #{self.pk} on LinkCast {self.linkcast_id}"


class RoomModerator(models.Model):
    """A user a host appointed to moderate the chat of all the host's rooms (mute, kick, pin, delete)."""

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_moderators")
    moderator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rooms_moderated")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host", "moderator"], name="roommoderator_host_moderator_uniq"),
            models.CheckConstraint(condition=~Q(host=models.F("moderator")), name="roommoderator_not_self"),
        ]
        indexes = [models.Index(fields=["moderator"], name="roommoderator_moderator_idx")]

    def __str__(self) -> str:
        return f"{self.moderator_id} moderates for {self.host_id}"


class ScheduledStream(models.Model):
    """A stream a host announces ahead. Followers subscribe and are reminded shortly before; going
    live near its time links it (`stream`); one never linked by its no-show time was missed."""

    class Status(models.TextChoices):
        UPCOMING = "upcoming", "Upcoming"
        STARTED = "started", "Started"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_streams")
    title = models.CharField(max_length=120)
    category = models.ForeignKey(
        Category,
        to_field="slug",
        db_column="category",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="schedules",
    )
    starts_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When the subscribers' reminder was claimed.")
    stream = models.OneToOneField(
        Stream,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="schedule",
        help_text="Set on going live.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["host", "starts_at"], name="schedule_host_starts_idx"),
            # the reminder sweep's lookup: open schedules by start time
            models.Index(
                fields=["starts_at"],
                condition=Q(cancelled_at__isnull=True, stream__isnull=True),
                name="schedule_open_starts_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} at {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def category_slug(self) -> str:
        return self.category_id or ""

    def status_at(self, now: datetime) -> str:
        if self.cancelled_at is not None:
            return self.Status.CANCELLED
        if self.stream_id is not None:
            return self.Status.STARTED
        if now > self.starts_at + timedelta(minutes=settings.LIVE_SCHEDULE_NO_SHOW_MINUTES):
            return self.Status.MISSED
        return self.Status.UPCOMING


class ScheduleSubscription(models.Model):
    """A user asked to be reminded of a scheduled stream."""

    schedule = models.ForeignKey(ScheduledStream, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedule_subscriptions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["schedule", "user"], name="schedulesubscription_uniq")]
        indexes = [models.Index(fields=["user"], name="schedulesubscription_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} subscribed to schedule {self.schedule_id}"
