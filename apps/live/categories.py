"""The stream category catalogue: what the apps may pick (active entries), and names in the reader's
language. Streams and schedules refer to an entry by its slug, which is also the API's `category`."""

from dataclasses import dataclass

from django.core.cache import cache
from django.utils import translation

from apps.live.exceptions import CategoryUnknown
from apps.live.models import Category

# The starting catalogue (migration 0009 wrote the same; the admin edits it afterwards):
# slug, English, Nepali, icon.
DEFAULT_CATEGORIES = [
    ("music", "Music", "संगीत", "🎵"),
    ("talk", "Just chatting", "गफगाफ", "💬"),
    ("gaming", "Gaming", "गेमिङ", "🎮"),
    ("dance", "Dance", "नृत्य", "💃"),
    ("comedy", "Comedy", "हास्य", "😂"),
    ("education", "Education", "शिक्षा", "📚"),
    ("sports", "Sports", "खेलकुद", "⚽"),
    ("cooking", "Cooking", "खाना पकाउने", "🍲"),
    ("travel", "Travel", "यात्रा", "🏔"),
    ("news", "News", "समाचार", "📰"),
    ("religion", "Religion and culture", "धर्म र संस्कृति", "🪔"),
    ("lifestyle", "Lifestyle", "जीवनशैली", "✨"),
]

_CACHE_KEY = "live:categories:v1"
_CACHE_SECONDS = 300


@dataclass(frozen=True)
class CategoryEntry:
    slug: str
    name_en: str
    name_ne: str
    icon: str
    position: int
    is_active: bool

    def name(self, language: str | None = None) -> str:
        language = language if language is not None else translation.get_language()
        return self.name_ne if (language or "").split("-")[0] == "ne" and self.name_ne else self.name_en


def _catalogue() -> dict[str, CategoryEntry]:
    """Every entry, active or not, by slug (cached; the admin's edits clear it)."""
    entries: dict[str, CategoryEntry] | None = cache.get(_CACHE_KEY)
    if entries is None:
        entries = {
            c.slug: CategoryEntry(c.slug, c.name_en, c.name_ne, c.icon, c.position, c.is_active)
            for c in Category.objects.order_by("position", "slug")
        }
        cache.set(_CACHE_KEY, entries, timeout=_CACHE_SECONDS)
    return entries


def category_catalogue_ensure() -> int:
    """Add the default entries that are missing (the demo's seed; edits to existing ones are kept).
    Returns how many were added."""
    added = 0
    for position, (slug, name_en, name_ne, icon) in enumerate(DEFAULT_CATEGORIES, start=1):
        _, created = Category.objects.get_or_create(
            slug=slug, defaults={"name_en": name_en, "name_ne": name_ne, "icon": icon, "position": position * 10}
        )
        added += created
    if added:
        category_cache_clear()
    return added


def category_cache_clear() -> None:
    cache.delete(_CACHE_KEY)


def category_list_active() -> list[CategoryEntry]:
    return [entry for entry in _catalogue().values() if entry.is_active]


def category_name(slug: str | None) -> str:
    """The category's name in the active language; "" for none (or one that has gone)."""
    entry = _catalogue().get(slug) if slug else None
    return entry.name() if entry is not None else ""


def category_resolve(value: str | None) -> str | None:
    """The slug of an active category for what a client sent ("Music" and "music" alike), None for
    no category; CategoryUnknown (400) for anything else. Read from the database, not the cache, so
    an entry the admin just retired is refused at once."""
    slug = (value or "").strip().lower()
    if not slug:
        return None
    if not Category.objects.filter(slug=slug, is_active=True).exists():
        raise CategoryUnknown(details={"category": slug})
    return slug
