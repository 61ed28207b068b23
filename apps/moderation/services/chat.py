"""The chat word filter: masking banned words and muting repeat offenders in a room."""

import logging
import uuid
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.accounts.models import User
from apps.core.counters import fixed_window_incr
from apps.live.events import user_event_publish
from apps.live.selectors import host_moderator_ids, user_brief
from apps.live.services import chat_message_publish
from apps.live.stream_status import stream_status
from apps.moderation import chatfilter
from apps.moderation.exceptions import HeldMessageDecided, HeldMessageNotFound, HeldMessageNotYours
from apps.moderation.explanations import explained
from apps.moderation.models import Enforcement, HeldMessage, ModerationAction
from apps.moderation.selectors import (
    SETTINGS_CACHE_KEY,
    WORDS_CACHE_KEY,
    banned_terms,
    held_message_may_decide,
    host_banned_terms,
    moderation_settings_get,
    stream_host_id,
)
from apps.moderation.types import ChatCheck

logger = logging.getLogger(__name__)

CHAT_OFFENCES_KEY = "moderation:chat:offences:{stream_id}:{user_id}"
CHAT_MUTE_KEY = "moderation:chat:mute:{stream_id}:{user_id}"


def text_mask(text: str) -> str:
    """Titles, bios, captions: banned words masked (no hold, no mute: nobody is chatting)."""
    return chatfilter.check(text, banned_terms()).text


def name_allowed(text: str) -> bool:
    """Usernames and display names: refused outright when the filter finds anything (`_` and `.` separate words)."""
    return not chatfilter.check(text.replace("_", " "), banned_terms()).hits


def banned_words_cache_clear() -> None:
    """Call after any change to the word list (the admin does)."""
    cache.delete(WORDS_CACHE_KEY)


def moderation_settings_cache_clear() -> None:
    cache.delete(SETTINGS_CACHE_KEY)


def chat_mute_until(*, user_id: int, stream_id: int) -> datetime | None:
    until = cache.get(CHAT_MUTE_KEY.format(stream_id=stream_id, user_id=user_id))
    if until is None:
        return None
    ends = datetime.fromisoformat(until)
    return ends if ends > timezone.now() else None


def chat_mute_lift(*, user_id: int, stream_id: int) -> None:
    """End a mute early (its enforcement was overturned on appeal)."""
    cache.delete(CHAT_MUTE_KEY.format(stream_id=stream_id, user_id=user_id))


def chat_message_check(*, user_id: int, stream_id: int, text: str) -> ChatCheck:
    """Mask banned words in a room message, hold grey-zone ones, and mute repeat offenders in that room.

    A message scoring inside the settings' hold band (chat_hold_min_score <= score <
    chat_hold_max_score) in a live room, from anyone but its host, is held for review (reason
    "held", pending_id set): nothing is broadcast until the host or staff approves it.

    Every message with a banned word is an offence, counted per (room, user) in the cache over
    the settings' window; the offence that reaches `chat_offences_to_mute` mutes the sender in
    that room for `chat_mute_seconds` (that message included). While muted, allowed is False.
    The room's host's own banned words count as the platform's do (a second pass with the host's
    terms, so the platform's compiled pattern stays cached however many hosts chat at once).
    No database write on the hot path: the word lists and settings come from the cache.
    """
    verdict = chatfilter.check(text, banned_terms())
    host_id = stream_host_id(stream_id=stream_id) if stream_id else None
    host_terms = host_banned_terms(host_id=host_id) if host_id is not None else ()
    if host_terms:
        by_host = chatfilter.check(verdict.text, host_terms)
        verdict = chatfilter.Verdict(
            text=by_host.text, hits=verdict.hits + by_host.hits, score=max(verdict.score, by_host.score)
        )
    masked, score = verdict.text, verdict.score
    muted_until = chat_mute_until(user_id=user_id, stream_id=stream_id)
    if muted_until is not None:
        return ChatCheck(text=masked, allowed=False, muted_until=muted_until, reason="muted", score=score)
    if not verdict.hits:
        return ChatCheck(text=masked, allowed=True, muted_until=None, reason="")

    conf = moderation_settings_get()
    if conf.chat_hold_min_score <= score < conf.chat_hold_max_score:
        held = _chat_hold(user_id=user_id, stream_id=stream_id, text=text, verdict=verdict)
        if held is not None:
            return ChatCheck(
                text=text, allowed=False, muted_until=None, reason="held", score=score, pending_id=held.message_id
            )
    key = CHAT_OFFENCES_KEY.format(stream_id=stream_id, user_id=user_id)
    offences, _ = fixed_window_incr(key, conf.chat_offence_window_seconds)
    if offences >= conf.chat_offences_to_mute:
        until = timezone.now() + timedelta(seconds=conf.chat_mute_seconds)
        cache.set(
            CHAT_MUTE_KEY.format(stream_id=stream_id, user_id=user_id),
            until.isoformat(),
            timeout=conf.chat_mute_seconds,
        )
        cache.delete(key)
        _chat_mute_record(user_id=user_id, stream_id=stream_id, text=text, until=until)
        logger.info("chat sender muted", extra={"user_id": user_id, "stream_id": stream_id})
        return ChatCheck(text=masked, allowed=False, muted_until=until, reason="muted", score=score)
    return ChatCheck(text=masked, allowed=True, muted_until=None, reason="masked", score=score)


def _chat_mute_record(*, user_id: int, stream_id: int, text: str, until: datetime) -> None:
    """Explain a mute to the user (enforcements API) and log it; rare, so a write is fine here."""
    # Reel comments count offences under a pseudo-room (0) that is no stream.
    room = stream_id if stream_id and stream_status(stream_id=stream_id) is not None else None
    with transaction.atomic():
        Enforcement.objects.create(
            user_id=user_id,
            kind=Enforcement.Kind.CHAT_MUTE,
            rule="chat_language",
            **explained(gettext_noop("Repeated banned words in chat: you are muted in this room for a while.")),
            stream_id=room,
            message_text=text[:1000],
            ends_at=until,
        )
        ModerationAction.objects.create(
            action=ModerationAction.Action.MUTE,
            target_user_id=user_id,
            stream_id=room,
            reason="repeated banned words",
            details={"stream_id": stream_id, "until": until.isoformat()},
        )


def _chat_hold(*, user_id: int, stream_id: int, text: str, verdict: chatfilter.Verdict) -> HeldMessage | None:
    """Keep a grey-zone room message for review and tell the host (None: no room to hold it in)."""
    room = stream_status(stream_id=stream_id) if stream_id else None
    if room is None or not room.is_active or room.host_id == user_id:
        return None
    terms = sorted({hit.term for hit in verdict.hits})
    with transaction.atomic():
        held = HeldMessage.objects.create(
            message_id=uuid.uuid4().hex[:16],
            stream_id=stream_id,
            sender_id=user_id,
            text=text[:1000],
            score=verdict.score,
            terms=terms,
        )
        ModerationAction.objects.create(
            action=ModerationAction.Action.CHAT_HOLD,
            target_user_id=user_id,
            stream_id=stream_id,
            reason="chat message held for review",
            details={"message_id": held.message_id, "score": verdict.score, "terms": terms},
        )
        sender = User.objects.get(pk=user_id)
        payload = {
            "id": held.message_id,
            "stream_id": stream_id,
            "user": user_brief(sender),
            "text": held.text,
            "score": verdict.score,
        }
        # Everyone who may decide in the room hears of it: the host and the host's room moderators.
        for decider_id in (room.host_id, *sorted(host_moderator_ids(host_id=room.host_id))):
            user_event_publish(user_id=decider_id, event_type="chat.held", payload=payload)
    logger.info("chat message held", extra={"user_id": user_id, "stream_id": stream_id, "score": verdict.score})
    return held


def held_message_decide(*, message_id: str, by: User, approve: bool, stream_id: int | None = None) -> HeldMessage:
    """Approve (broadcast it, unmasked, to the room) or reject (tell its sender) a held message.

    Only the room's host, the host's room moderators or staff may (held_message_may_decide); once
    decided it stays decided. Every decision goes into the audit log.
    """
    with transaction.atomic():
        held = HeldMessage.objects.select_for_update().select_related("sender").filter(message_id=message_id).first()
        if held is None or (stream_id is not None and held.stream_id != stream_id):
            raise HeldMessageNotFound(details={"message_id": message_id})
        if not held_message_may_decide(user=by, stream_id=held.stream_id):
            raise HeldMessageNotYours()
        if held.status != HeldMessage.Status.PENDING:
            raise HeldMessageDecided(details={"status": held.status})
        held.status = HeldMessage.Status.APPROVED if approve else HeldMessage.Status.REJECTED
        held.decided_by = by
        held.decided_at = timezone.now()
        held.save(update_fields=["status", "decided_by", "decided_at"])
        ModerationAction.objects.create(
            actor=by,
            action=ModerationAction.Action.CHAT_APPROVE if approve else ModerationAction.Action.CHAT_REJECT,
            target_user_id=held.sender_id,
            stream_id=held.stream_id,
            reason="held chat message approved" if approve else "held chat message rejected",
            details={"message_id": held.message_id, "score": held.score, "terms": held.terms},
        )
        if approve:
            chat_message_publish(
                stream_id=held.stream_id, sender=held.sender, text=held.text, message_id=held.message_id
            )
        user_event_publish(
            user_id=held.sender_id,
            event_type="chat.approved" if approve else "chat.rejected",
            payload={"id": held.message_id, "stream_id": held.stream_id},
        )
    logger.info(
        "held chat message decided",
        extra={"message_id": held.message_id, "approved": approve, "by": by.pk, "stream_id": held.stream_id},
    )
    return held
