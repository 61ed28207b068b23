"""Search (apps.core.search): the reels' romanised search key of the caption, and its two GIN indexes."""

from django.db import migrations, models

from apps.core.search import search_indexes_add, search_indexes_remove, search_text_backfill


def backfill(apps, schema_editor):
    search_text_backfill(apps.get_model("reels", "Reel"), "caption")


def indexes_add(apps, schema_editor):
    search_indexes_add(schema_editor, apps.get_model("reels", "Reel"), prefix="reel")


def indexes_remove(apps, schema_editor):
    search_indexes_remove(schema_editor, apps.get_model("reels", "Reel"), prefix="reel")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_search_text"),  # pg_trgm
        ("reels", "0002_hashtags"),
    ]

    operations = [
        migrations.AddField(
            model_name="reel",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(indexes_add, indexes_remove),
    ]
