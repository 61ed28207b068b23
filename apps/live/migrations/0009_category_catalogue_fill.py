from django.db import migrations
from django.utils.text import slugify

# The starting catalogue (the admin edits it afterwards): slug, English, Nepali, icon.
DEFAULTS = [
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


def _slug(value: str) -> str:
    return slugify(value.strip().lower(), allow_unicode=True)[:40]


def fill(apps, schema_editor):
    """Create the catalogue from the defaults and every free-text value in use, then point each row's
    value at its catalogue slug (an empty value becomes no category)."""
    Category = apps.get_model("live", "Category")
    Stream = apps.get_model("live", "Stream")
    ScheduledStream = apps.get_model("live", "ScheduledStream")
    for position, (slug, name_en, name_ne, icon) in enumerate(DEFAULTS, start=1):
        Category.objects.get_or_create(
            slug=slug, defaults={"name_en": name_en, "name_ne": name_ne, "icon": icon, "position": position * 10}
        )
    for model in (Stream, ScheduledStream):
        for value in model.objects.exclude(category=None).values_list("category", flat=True).distinct():
            slug = _slug(value)
            if not slug:
                model.objects.filter(category=value).update(category=None)
                continue
            name = value.strip()[:60]
            Category.objects.get_or_create(
                slug=slug, defaults={"name_en": name.title(), "name_ne": name, "position": 1000}
            )
            if slug != value:
                model.objects.filter(category=value).update(category=slug)


def unfill(apps, schema_editor):
    for name in ("Stream", "ScheduledStream"):
        apps.get_model("live", name).objects.filter(category=None).update(category="")


class Migration(migrations.Migration):
    dependencies = [("live", "0008_category_catalogue")]

    operations = [migrations.RunPython(fill, unfill)]
