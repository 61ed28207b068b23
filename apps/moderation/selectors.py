from django.core.cache import cache

from apps.moderation.models import BannedWord, ModerationSettings

SETTINGS_CACHE_KEY = "moderation:settings:v1"
WORDS_CACHE_KEY = "moderation:banned-words:v1"
CACHE_SECONDS = 3600


def moderation_settings_get() -> ModerationSettings:
    """The settings row (created with defaults on first use), cached until an admin saves it."""
    cached = cache.get(SETTINGS_CACHE_KEY)
    if cached is not None:
        return cached
    row, _ = ModerationSettings.objects.get_or_create(pk=1)
    cache.set(SETTINGS_CACHE_KEY, row, CACHE_SECONDS)
    return row


def banned_terms() -> tuple[str, ...]:
    """Active banned terms, cached until a word is saved or deleted."""
    cached = cache.get(WORDS_CACHE_KEY)
    if cached is not None:
        return tuple(cached)
    terms = tuple(BannedWord.objects.filter(is_active=True).order_by("pk").values_list("term", flat=True))
    cache.set(WORDS_CACHE_KEY, list(terms), CACHE_SECONDS)
    return terms
