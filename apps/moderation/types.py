"""Plain types other apps use with moderation's services: the values they get back, the choices they pass."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db import models


class CaseTargetType(models.TextChoices):
    """What a case (a report, a flag, an appeal) is about: `target_type` of report_create."""

    STREAM = "stream", "Stream"
    USER = "user", "User"
    REEL = "reel", "Reel"
    CHAT_MESSAGE = "chat_message", "Chat message"
    FRAME = "frame", "Frame"
    AGE_CHECK = "age_check", "Age check"
    ENFORCEMENT = "enforcement", "Enforcement"


class ReportReason(models.TextChoices):
    NUDITY = "nudity", "Nudity or sexual content"
    VIOLENCE = "violence", "Violence or threats"
    HARASSMENT = "harassment", "Harassment or hate"
    MINOR = "minor", "Looks under 18"
    SPAM = "spam", "Spam or scam"
    OTHER = "other", "Something else"


class FiledReport(Protocol):
    """What report_create gives back about a report, as the reporter may see it."""

    @property
    def id(self) -> int: ...

    @property
    def case_id(self) -> int: ...

    @property
    def reason(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


@dataclass(frozen=True)
class ChatCheck:
    """The verdict on one chat message.

    text: the message with banned words masked; allowed: False while the sender is muted in the
    room (drop the message); muted_until: end of the mute, if any; reason: "" (clean), "masked",
    "muted" (this message started a mute or arrived during one), "held" (waiting for review:
    send it to no one but its sender, as pending, under pending_id); score: the filter's score.
    """

    text: str
    allowed: bool
    muted_until: datetime | None
    reason: str
    score: int = 0
    pending_id: str = ""


@dataclass(frozen=True)
class VideoVerdict:
    """The verdict on a reel: publish or not, why, the highest frame score and the model that gave it."""

    publish: bool
    reason: str
    max_score: float
    model_version: str
    frames_scored: int
    max_score_at_seconds: float | None = None
