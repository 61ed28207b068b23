import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Streams and schedules now point at the catalogue by slug (the column keeps its name and values)."""

    dependencies = [("live", "0009_category_catalogue_fill")]

    operations = [
        migrations.AlterField(
            model_name="stream",
            name="category",
            field=models.ForeignKey(
                blank=True,
                db_column="category",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="streams",
                to="live.category",
                to_field="slug",
            ),
        ),
        migrations.AlterField(
            model_name="scheduledstream",
            name="category",
            field=models.ForeignKey(
                blank=True,
                db_column="category",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="schedules",
                to="live.category",
                to_field="slug",
            ),
        ),
    ]
