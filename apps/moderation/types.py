"""Value objects other apps receive from moderation services."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ChatCheck:
    """The verdict on one chat message.

    text: the message with banned words masked; allowed: False while the sender is muted in the
    room (drop the message); muted_until: end of the mute, if any; reason: "" (clean), "masked",
    "muted" (this message started a mute or arrived during one).
    """

    text: str
    allowed: bool
    muted_until: datetime | None
    reason: str


@dataclass(frozen=True)
class VideoVerdict:
    """The verdict on a reel: publish or not, why, the highest frame score and the model that gave it."""

    publish: bool
    reason: str
    max_score: float
    model_version: str
    frames_scored: int
    max_score_at_seconds: float | None = None
