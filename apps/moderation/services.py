import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from apps.moderation import chatfilter
from apps.moderation.selectors import SETTINGS_CACHE_KEY, WORDS_CACHE_KEY, banned_terms, moderation_settings_get
from apps.moderation.types import ChatCheck

logger = logging.getLogger(__name__)

CHAT_OFFENCES_KEY = "moderation:chat:offences:{stream_id}:{user_id}"
CHAT_MUTE_KEY = "moderation:chat:mute:{stream_id}:{user_id}"


# --- Caches -------------------------------------------------------------------------------------


def banned_words_cache_clear() -> None:
    """Call after any change to the word list (the admin does)."""
    cache.delete(WORDS_CACHE_KEY)


def moderation_settings_cache_clear() -> None:
    cache.delete(SETTINGS_CACHE_KEY)


# --- Chat filter --------------------------------------------------------------------------------


def chat_mute_until(*, user_id: int, stream_id: int) -> datetime | None:
    until = cache.get(CHAT_MUTE_KEY.format(stream_id=stream_id, user_id=user_id))
    if until is None:
        return None
    until = datetime.fromisoformat(until)
    return until if until > timezone.now() else None


def chat_message_check(*, user_id: int, stream_id: int, text: str) -> ChatCheck:
    """Mask banned words in a room message and mute repeat offenders in that room.

    Every message with a banned word is an offence, counted per (room, user) in the cache over
    the settings' window; the offence that reaches `chat_offences_to_mute` mutes the sender in
    that room for `chat_mute_seconds` (that message included). While muted, allowed is False.
    No database write on the hot path: the word list and settings come from the cache.
    """
    masked, hits = chatfilter.mask(text, banned_terms())
    muted_until = chat_mute_until(user_id=user_id, stream_id=stream_id)
    if muted_until is not None:
        return ChatCheck(text=masked, allowed=False, muted_until=muted_until, reason="muted")
    if hits == 0:
        return ChatCheck(text=masked, allowed=True, muted_until=None, reason="")

    conf = moderation_settings_get()
    key = CHAT_OFFENCES_KEY.format(stream_id=stream_id, user_id=user_id)
    # add() sets the window's expiry once; incr() keeps that expiry (Redis and locmem alike).
    cache.add(key, 0, timeout=conf.chat_offence_window_seconds)
    try:
        offences = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=conf.chat_offence_window_seconds)
        offences = 1
    if offences >= conf.chat_offences_to_mute:
        until = timezone.now() + timedelta(seconds=conf.chat_mute_seconds)
        cache.set(
            CHAT_MUTE_KEY.format(stream_id=stream_id, user_id=user_id),
            until.isoformat(),
            timeout=conf.chat_mute_seconds,
        )
        cache.delete(key)
        logger.info("chat sender muted", extra={"user_id": user_id, "stream_id": stream_id})
        return ChatCheck(text=masked, allowed=False, muted_until=until, reason="muted")
    return ChatCheck(text=masked, allowed=True, muted_until=None, reason="masked")
