"""Search (apps.core.search): pg_trgm, the users' romanised search key, and its two GIN indexes."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

from apps.core.search import search_indexes_add, search_indexes_remove, search_text_backfill


def backfill(apps, schema_editor):
    search_text_backfill(apps.get_model("accounts", "User"), "username", "display_name")


def indexes_add(apps, schema_editor):
    search_indexes_add(schema_editor, apps.get_model("accounts", "User"), prefix="user")


def indexes_remove(apps, schema_editor):
    search_indexes_remove(schema_editor, apps.get_model("accounts", "User"), prefix="user")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_user_deletion_due_at"),
    ]

    operations = [
        TrigramExtension(),  # PostgreSQL only (Django skips it elsewhere)
        migrations.AddField(
            model_name="user",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(indexes_add, indexes_remove),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(condition=models.Q(("is_active", False)), fields=["id"], name="user_inactive_idx"),
        ),
    ]
