"""Chat in a stream room: who may send a message now, and the checks other apps add to every message.

A room socket keeps its user's chat rights in a `ChatRules` (read once on connect, kept current by
the room's `chat.mode`, `chat.muted` and `chat.unmuted` events) and asks it before each message.
The content checks are registered by other apps (moderation adds its word filter from its
AppConfig.ready()): live sits below moderation and never imports it.
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy, gettext_noop

from apps.accounts.models import User
from apps.accounts.selectors import is_following
from apps.core.exceptions import NotFound
from apps.core.i18n import translate_lazy
from apps.core.timestamps import iso_utc
from apps.live.events import room_event_publish
from apps.live.exceptions import ChatRateLimited, ChatRefused
from apps.live.models import Stream
from apps.live.room_state import chat_history_append, room_state
from apps.live.selectors import stream_get, user_brief
from apps.og.selectors import user_has_active_og

logger = logging.getLogger(__name__)


def seconds_round_up(seconds: float) -> float:
    """A wait to tell a client, in tenths of a second and never 0 (retrying sooner would be refused)."""
    return max(math.ceil(seconds * 10) / 10, 0.1)


# Room events that change the chat rules a socket enforces for its user, or the user's role.
MODERATOR_EVENTS = frozenset({"room.moderator_added", "room.moderator_removed"})
RULE_EVENTS = frozenset({"chat.mode", "chat.muted", "chat.unmuted"}) | MODERATOR_EVENTS


class ChatVerdict(Protocol):
    """What a chat check says of one message (moderation's ChatCheck is one)."""

    @property
    def text(self) -> str: ...  # the message to broadcast (a checker may mask words)
    @property
    def allowed(self) -> bool: ...  # False: drop the message
    @property
    def reason(self) -> str: ...
    @property
    def muted_until(self) -> datetime | None: ...
    @property
    def pending_id(self) -> str: ...  # non-empty: held for review under this message id


ChatChecker = Callable[..., ChatVerdict]  # checker(user_id=, stream_id=, text=) -> ChatVerdict
# decider(message_id=, by=, approve=, stream_id=) -> Any: moderation approves or rejects a held message.
HoldDecider = Callable[..., Any]

_checkers: list[ChatChecker] = []
_deciders: list[HoldDecider] = []


class ChatHeld(Exception):  # noqa: N818 (an outcome, not an error: the consumer tells the sender it is pending)
    """A checker held the message for review: only its sender sees it, as pending."""

    def __init__(self, *, message_id: str, text: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.text = text


def chat_hold_decider_register(decider: HoldDecider) -> None:
    """The one function that approves or rejects held messages (moderation registers it)."""
    _deciders[:] = [decider]


def chat_hold_decide(*, stream_id: int, message_id: str, by: User, approve: bool) -> None:
    """Approve or reject a held message of this room (the decider checks who may, and tells the room)."""
    if not _deciders:
        raise NotFound(gettext_lazy("No such message is waiting for review."))
    _deciders[0](message_id=message_id, by=by, approve=approve, stream_id=stream_id)


def chat_message_publish(*, stream_id: int, sender: User, text: str, message_id: str) -> None:
    """After commit: add a message to the room's history and broadcast it as `chat.message`, as if
    just sent (a held message once approved). Never raises."""
    message = {
        "id": message_id,
        "user": {**user_brief(sender), "role": "viewer"},
        "text": text,
        "sent_at": iso_utc(timezone.now()),
    }

    def publish() -> None:
        try:
            chat_history_append(stream_id=stream_id, event=message)
        except Exception:
            logger.exception("approved message not kept in history", extra={"stream_id": stream_id})

    transaction.on_commit(publish)
    room_event_publish(stream_id=stream_id, event_type="chat.message", payload=message)


def chat_checker_register(checker: ChatChecker) -> None:
    """Add a check that every room message passes, after those registered before (once per checker)."""
    if checker not in _checkers:
        _checkers.append(checker)


def chat_text_check(*, user_id: int, stream_id: int, text: str) -> str:
    """Run the registered checks in order: the text to broadcast, or ChatRefused (nothing is sent)."""
    for checker in _checkers:
        verdict = checker(user_id=user_id, stream_id=stream_id, text=text)
        if getattr(verdict, "pending_id", ""):
            raise ChatHeld(message_id=verdict.pending_id, text=verdict.text)
        if not verdict.allowed:
            message = (
                translate_lazy(
                    gettext_noop("Your message was not sent: you are muted in chat until %(until)s."),
                    until=verdict.muted_until,
                )
                if verdict.muted_until
                else gettext_lazy("Your message was not sent.")
            )
            raise ChatRefused(message, details={"reason": verdict.reason, "muted_until": iso_utc(verdict.muted_until)})
        text = verdict.text
    return text


@dataclass
class ChatRules:
    """One socket's view of its user's right to chat in the room."""

    stream_id: int
    user_id: int
    is_host: bool
    chat_mode: str
    slow_mode_seconds: int
    follows_host: bool
    is_og: bool | None  # None: not asked yet (only OG-only chat needs it)
    muted: bool
    muted_until: datetime | None

    def note(self, event: dict[str, Any]) -> None:
        """Take in a room event that changes the rules (see RULE_EVENTS); ignore any other."""
        event_type = event.get("type")
        payload = event.get("payload") or {}
        if event_type == "chat.mode":
            self.chat_mode = payload.get("mode", self.chat_mode)
            self.slow_mode_seconds = payload.get("slow_mode_seconds", self.slow_mode_seconds)
        elif event_type == "chat.muted" and payload.get("user_id") == self.user_id:
            self.muted = True
            self.muted_until = datetime.fromisoformat(payload["until"]) if payload.get("until") else None
        elif event_type == "chat.unmuted" and payload.get("user_id") == self.user_id:
            self.muted, self.muted_until = False, None

    async def message_accept(self, text: str) -> str:
        """Every rule a message passes before it is broadcast: the host's mute, followers-only and
        OG-only chat, slow mode, the rate limit, then the registered checks. Returns the text to
        send; raises ChatRefused or ChatRateLimited."""
        state = room_state()
        if not self.is_host:
            await self._viewer_may_chat()
            if self.slow_mode_seconds:
                wait = await state.slow_mode_pass(self.stream_id, self.user_id, self.slow_mode_seconds)
                if wait:
                    raise ChatRateLimited(
                        gettext_lazy("Slow mode is on."),
                        details={"retry_after": seconds_round_up(wait), "slow_mode_seconds": self.slow_mode_seconds},
                    )
        hits, seconds_left, refused = await state.chat_hit(
            self.stream_id, self.user_id, settings.LIVE_CHAT_RATE_SECONDS
        )
        if refused and not self.is_host:
            raise ChatRefused(gettext_lazy("You can no longer chat in this room."), details={"reason": "user_blocked"})
        if hits > settings.LIVE_CHAT_RATE_COUNT:
            raise ChatRateLimited(details={"retry_after": seconds_round_up(seconds_left)})
        if not _checkers:
            return text
        checked: str = await database_sync_to_async(chat_text_check)(
            user_id=self.user_id, stream_id=self.stream_id, text=text
        )
        return checked

    async def _viewer_may_chat(self) -> None:
        if self.muted and (self.muted_until is None or self.muted_until > timezone.now()):
            raise ChatRefused(
                gettext_lazy("The host muted you in this room."), details={"muted_until": iso_utc(self.muted_until)}
            )
        if self.chat_mode == Stream.ChatMode.FOLLOWERS and not self.follows_host:
            # Following may have happened after joining: look once more before refusing.
            host_id = (await database_sync_to_async(stream_get)(stream_id=self.stream_id)).host_id
            self.follows_host = await database_sync_to_async(is_following)(
                follower_id=self.user_id, followee_id=host_id
            )
            if not self.follows_host:
                raise ChatRefused(
                    gettext_lazy("Only followers of the host can chat right now."), details={"chat_mode": "followers"}
                )
        if self.chat_mode == Stream.ChatMode.OG:
            if not self.is_og:
                self.is_og = await database_sync_to_async(user_has_active_og)(user_id=self.user_id)
            if not self.is_og:
                raise ChatRefused(gettext_lazy("Only OG members can chat right now."), details={"chat_mode": "og"})
