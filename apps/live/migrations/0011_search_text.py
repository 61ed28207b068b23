"""Search (apps.core.search): the streams' romanised search key (title and host's names), its GIN indexes."""

from django.db import migrations, models

from apps.core.search import search_indexes_add, search_indexes_remove, search_text


def backfill(apps, schema_editor):
    stream_model = apps.get_model("live", "Stream")
    rows = list(stream_model.objects.filter(status__in=["preparing", "live"]).select_related("host"))
    for row in rows:  # ended streams are never searched: only the open ones get a key
        row.search_text = search_text(row.title, row.host.username, row.host.display_name)
    stream_model.objects.bulk_update(rows, ["search_text"], batch_size=1000)


def indexes_add(apps, schema_editor):
    search_indexes_add(schema_editor, apps.get_model("live", "Stream"), prefix="stream")


def indexes_remove(apps, schema_editor):
    search_indexes_remove(schema_editor, apps.get_model("live", "Stream"), prefix="stream")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_search_text"),  # pg_trgm
        ("live", "0010_category_reference"),
    ]

    operations = [
        migrations.AddField(
            model_name="stream",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(indexes_add, indexes_remove),
    ]
