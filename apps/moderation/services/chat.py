"""The chat word filter: masking banned words and muting repeat offenders in a room."""

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.core.counters import fixed_window_incr
from apps.live.stream_status import stream_status
from apps.moderation import chatfilter
from apps.moderation.explanations import explained
from apps.moderation.models import Enforcement, ModerationAction
from apps.moderation.selectors import (
    SETTINGS_CACHE_KEY,
    WORDS_CACHE_KEY,
    banned_terms,
    host_banned_terms,
    moderation_settings_get,
    stream_host_id,
)
from apps.moderation.types import ChatCheck

logger = logging.getLogger(__name__)

CHAT_OFFENCES_KEY = "moderation:chat:offences:{stream_id}:{user_id}"
CHAT_MUTE_KEY = "moderation:chat:mute:{stream_id}:{user_id}"


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
    """Mask banned words in a room message and mute repeat offenders in that room.

    Every message with a banned word is an offence, counted per (room, user) in the cache over
    the settings' window; the offence that reaches `chat_offences_to_mute` mutes the sender in
    that room for `chat_mute_seconds` (that message included). While muted, allowed is False.
    The room's host's own banned words count as the platform's do (a second pass with the host's
    terms, so the platform's compiled pattern stays cached however many hosts chat at once).
    No database write on the hot path: the word lists and settings come from the cache.
    """
    masked, hits = chatfilter.mask(text, banned_terms())
    host_id = stream_host_id(stream_id=stream_id) if stream_id else None
    host_terms = host_banned_terms(host_id=host_id) if host_id is not None else ()
    if host_terms:
        masked, host_hits = chatfilter.mask(masked, host_terms)
        hits += host_hits
    muted_until = chat_mute_until(user_id=user_id, stream_id=stream_id)
    if muted_until is not None:
        return ChatCheck(text=masked, allowed=False, muted_until=muted_until, reason="muted")
    if hits == 0:
        return ChatCheck(text=masked, allowed=True, muted_until=None, reason="")

    conf = moderation_settings_get()
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
        return ChatCheck(text=masked, allowed=False, muted_until=until, reason="muted")
    return ChatCheck(text=masked, allowed=True, muted_until=None, reason="masked")


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
