from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class ModerationSettings(models.Model):
    """The one row of admin-editable moderation knobs (pk is always 1; read it via selectors)."""

    nsfw_review_threshold = models.FloatField(
        default=0.40, help_text="A frame scoring at or above this enters the moderator queue."
    )
    nsfw_block_threshold = models.FloatField(
        default=0.85, help_text="A frame scoring at or above this ends the stream and gives the host a strike."
    )
    strikes_to_suspend = models.PositiveSmallIntegerField(
        default=3, help_text="Strikes within the window that suspend the host."
    )
    strike_window_days = models.PositiveSmallIntegerField(default=30)
    suspension_days = models.PositiveSmallIntegerField(default=7)
    safe_frame_retention_hours = models.PositiveIntegerField(
        default=24, help_text="Frames below the review threshold are deleted after this long."
    )
    video_sample_fps = models.FloatField(default=1.0, help_text="Frames sampled per second of a reel.")
    video_max_frames = models.PositiveIntegerField(default=120, help_text="At most this many frames per reel.")
    age_safety_margin_years = models.PositiveSmallIntegerField(
        default=7, help_text="A selfie estimated below 18 + this many years goes to a moderator."
    )
    chat_offences_to_mute = models.PositiveSmallIntegerField(
        default=3, help_text="Masked messages within the window that mute the sender in that room."
    )
    chat_offence_window_seconds = models.PositiveIntegerField(default=600)
    chat_mute_seconds = models.PositiveIntegerField(default=600)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "moderation settings"
        verbose_name_plural = "moderation settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="moderation_settings_singleton"),
            models.CheckConstraint(
                condition=models.Q(nsfw_review_threshold__gte=0)
                & models.Q(nsfw_review_threshold__lte=models.F("nsfw_block_threshold"))
                & models.Q(nsfw_block_threshold__lte=1),
                name="moderation_settings_thresholds_ordered",
            ),
        ]

    def __str__(self) -> str:
        return "Moderation settings"


class BannedWord(models.Model):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        NEPALI = "ne", "Nepali (Devanagari)"
        ROMANISED_NEPALI = "ne-latn", "Nepali (romanised)"

    term = models.CharField(max_length=100, help_text="A word or phrase, matched whole and case-insensitively.")
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["language", "term"]
        constraints = [models.UniqueConstraint(Lower("term"), name="moderation_bannedword_term_ci_uniq")]

    def __str__(self) -> str:
        return self.term
