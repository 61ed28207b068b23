from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from apps.core.storage import private_storage
from apps.moderation.types import CaseTargetType, ReportReason


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
    chat_hold_min_score = models.PositiveSmallIntegerField(
        default=40,
        help_text="A room message whose filter score is at least this, and below the next field, is held for "
        "the host or staff to approve (the sender alone sees it meanwhile).",
    )
    chat_hold_max_score = models.PositiveSmallIntegerField(
        default=60,
        help_text="From this score on a message is masked and sent (and counts towards a mute). "
        "Equal to the minimum: nothing is held.",
    )
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
            models.CheckConstraint(
                condition=models.Q(chat_hold_min_score__lte=models.F("chat_hold_max_score"))
                & models.Q(chat_hold_max_score__lte=101),
                name="moderation_settings_hold_band_ordered",
            ),
        ]

    def __str__(self) -> str:
        return "Moderation settings"


class BannedWord(models.Model):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        NEPALI = "ne", "Nepali (Devanagari)"
        ROMANISED_NEPALI = "ne-latn", "Nepali (romanised)"

    term = models.CharField(
        max_length=100,
        help_text="A word or phrase. Matched through case, accents, look-alike letters, leetspeak, repeated and "
        "spaced-out letters (and, for romanised Nepali, its usual alternative spellings).",
    )
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    severity = models.PositiveSmallIntegerField(
        default=80,
        help_text="1–100. A message scores its worst word (more when spelt to evade, less when letters are "
        "starred out); the moderation settings' hold band decides which scores wait for review.",
    )
    inside_words = models.BooleanField(
        default=False,
        help_text="Also match inside longer words (bullshit), except the filter's allowed words (Scunthorpe).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["language", "term"]
        constraints = [
            models.UniqueConstraint(Lower("term"), name="moderation_bannedword_term_ci_uniq"),
            models.CheckConstraint(
                condition=models.Q(severity__gte=1) & models.Q(severity__lte=100),
                name="moderation_bannedword_severity_range",
            ),
        ]

    def __str__(self) -> str:
        return self.term


class HostBannedWord(models.Model):
    """A word or phrase a host bans in their own rooms' chat, on top of the platform's list."""

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="banned_words")
    term = models.CharField(max_length=100, help_text="Matched whole and case-insensitively, as the platform list.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("host", Lower("term"), name="moderation_hostword_host_term_ci_uniq"),
        ]

    def __str__(self) -> str:
        return self.term


class Frame(models.Model):
    """A still from a live stream, uploaded by its host every few seconds and scored by the NSFW model."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the model"
        SCORING = "scoring", "Being scored"
        SAFE = "safe", "Safe"
        REVIEW = "review", "Flagged for review"
        BLOCKED = "blocked", "Blocked"
        FAILED = "failed", "Could not be scored"

    FLAGGED = (Status.REVIEW, Status.BLOCKED)

    stream = models.ForeignKey("live.Stream", on_delete=models.PROTECT, related_name="moderation_frames")
    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    image = models.ImageField(upload_to="moderation/frames/%Y/%m/%d/", storage=private_storage)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    score = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=120, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker took it for scoring.")
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "uploaded_at"], name="mod_frame_status_idx"),
            models.Index(fields=["stream", "-uploaded_at"], name="mod_frame_stream_idx"),
        ]

    def __str__(self) -> str:
        return f"frame #{self.pk} of stream #{self.stream_id}"


class AgeCheck(models.Model):
    """One selfie age estimate; a likely minor waits for a moderator who reviews an ID document."""

    class Outcome(models.TextChoices):
        ADULT = "adult", "Clearly adult"
        LIKELY_MINOR = "likely_minor", "Possibly a minor: review"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="age_checks")
    # Kept only for likely minors (the reviewer compares it with the ID); adults' selfies are not stored.
    selfie = models.ImageField(upload_to="moderation/age/selfies/%Y/%m/", blank=True, storage=private_storage)
    id_document = models.FileField(upload_to="moderation/age/ids/%Y/%m/", blank=True, storage=private_storage)
    estimated_age = models.FloatField()
    face_box = models.JSONField(default=list, help_text="[left, top, right, bottom] in the submitted image")
    model_version = models.CharField(max_length=120)
    outcome = models.CharField(max_length=14, choices=Outcome.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="mod_agecheck_user_idx")]

    def __str__(self) -> str:
        return f"age check #{self.pk} of user #{self.user_id}"


class Case(models.Model):
    """One item of the moderator queue: a flagged frame, an age review, a report (merged per target) or an appeal."""

    class Kind(models.TextChoices):
        FRAME = "frame", "Flagged frame"
        AGE_REVIEW = "age_review", "Age review"
        AGE_FRAME = "age_frame", "Possible minor on a stream"
        REPORT = "report", "User report"
        APPEAL = "appeal", "Appeal"

    TargetType = CaseTargetType

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    target_type = models.CharField(max_length=14, choices=TargetType.choices)
    target_id = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="moderation_cases",
        help_text="The user any action would hit.",
    )
    stream = models.ForeignKey("live.Stream", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    frame = models.ForeignKey(Frame, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    age_check = models.ForeignKey(AgeCheck, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    enforcement = models.ForeignKey(
        "Enforcement", null=True, blank=True, on_delete=models.PROTECT, related_name="appeal_cases"
    )
    score = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=120, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    reporter_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=20, blank=True)

    class Meta:
        permissions = [("act_case", "Can act on moderation cases (dismiss, warn, end stream, suspend, ban)")]
        constraints = [
            # Duplicate reports merge: at most one open case per target and kind.
            models.UniqueConstraint(
                fields=["kind", "target_type", "target_id"],
                condition=models.Q(status="open"),
                name="mod_case_one_open_per_target",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="mod_case_status_idx"),
            models.Index(fields=["decided_at"], name="mod_case_decided_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Report(models.Model):
    Reason = ReportReason

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    details = models.CharField(max_length=500, blank=True)
    message_text = models.CharField(max_length=1000, blank=True, help_text="The reported chat message, as seen.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "reporter"], name="mod_report_one_per_reporter")]

    def __str__(self) -> str:
        return f"report #{self.pk} on case #{self.case_id}"


class Enforcement(models.Model):
    """Something moderation did to a user, explained to them (and appealable once)."""

    class Kind(models.TextChoices):
        WARNING = "warning", "Warning"
        STREAM_ENDED = "stream_ended", "Stream ended"
        STRIKE = "strike", "Strike"
        SUSPENSION = "suspension", "Suspension"
        BAN = "ban", "Ban"
        CHAT_MUTE = "chat_mute", "Muted in chat"
        AGE_HOLD = "age_hold", "Held for age review"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enforcements")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    rule = models.CharField(max_length=60, help_text="Which rule, e.g. nsfw_frame, chat_language, reported.")
    explanation = models.CharField(max_length=500)
    # What the user reads is the template (a gettext msgid) with these values, in their language
    # (apps.moderation.explanations); `explanation` keeps the English text for the back office.
    explanation_template = models.CharField(max_length=300, blank=True)
    explanation_params = models.JSONField(default=dict, blank=True)
    stream = models.ForeignKey("live.Stream", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    frame = models.ForeignKey(Frame, null=True, blank=True, on_delete=models.PROTECT, related_name="enforcements")
    message_text = models.CharField(max_length=1000, blank=True)
    model_score = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=120, blank=True)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="enforcements")
    ends_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="mod_enf_user_idx"),
            models.Index(fields=["user", "kind", "created_at"], name="mod_enf_user_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for user #{self.user_id}"


class Appeal(models.Model):
    """A user's one appeal against an enforcement."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        UPHELD = "upheld", "Upheld (enforcement stays)"
        OVERTURNED = "overturned", "Overturned (enforcement lifted)"

    enforcement = models.OneToOneField(Enforcement, on_delete=models.CASCADE, related_name="appeal")
    text = models.CharField(max_length=1000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome_note = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"appeal of enforcement #{self.enforcement_id}"


class ModerationAction(models.Model):
    """The append-only audit log: who did what to whom, why and when (actor empty = automatic)."""

    class Action(models.TextChoices):
        DISMISS = "dismiss", "Dismiss"
        WARN = "warn", "Warn"
        END_STREAM = "end_stream", "End stream"
        SUSPEND = "suspend", "Suspend"
        BAN = "ban", "Ban"
        STRIKE = "strike", "Strike"
        MUTE = "mute", "Mute in chat"
        AGE_HOLD = "age_hold", "Hold for age review"
        AGE_APPROVE = "age_approve", "Approve age"
        AGE_REJECT = "age_reject", "Reject age"
        GIFTING_PAUSE = "gifting_pause", "Pause a stream's gifts"
        APPEAL_UPHOLD = "appeal_uphold", "Uphold appeal"
        APPEAL_OVERTURN = "appeal_overturn", "Overturn appeal"
        REEL_REJECT = "reel_reject", "Reject reel"
        ROOM_MUTE = "room_mute", "Room moderator: mute"
        ROOM_UNMUTE = "room_unmute", "Room moderator: unmute"
        ROOM_KICK = "room_kick", "Room moderator: kick"
        CHAT_PIN = "chat_pin", "Room moderator: pin"
        CHAT_UNPIN = "chat_unpin", "Room moderator: unpin"
        CHAT_DELETE = "chat_delete", "Room moderator: delete message"
        MODERATOR_ADD = "moderator_add", "Host: appoint room moderator"
        MODERATOR_REMOVE = "moderator_remove", "Host: remove room moderator"
        CHAT_HOLD = "chat_hold", "Hold chat message"
        CHAT_APPROVE = "chat_approve", "Approve held message"
        CHAT_REJECT = "chat_reject", "Reject held message"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="actions")
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stream = models.ForeignKey("live.Stream", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        who = self.actor_id or "system"
        return f"{self.get_action_display()} by {who} at {self.created_at:%Y-%m-%d %H:%M}"


class HeldMessage(models.Model):
    """A room message the word filter held for review: only its sender sees it until the host or staff decides."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    message_id = models.CharField(max_length=32, unique=True, help_text="The chat message id it is sent with.")
    stream = models.ForeignKey("live.Stream", on_delete=models.CASCADE, related_name="+")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=1000, help_text="As written (sent unmasked when approved).")
    score = models.PositiveSmallIntegerField()
    terms = models.JSONField(default=list, blank=True, help_text="The banned terms the filter read in it.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["stream", "status"], name="moderation_held_stream_status")]

    def __str__(self) -> str:
        return f"held message {self.message_id}"
