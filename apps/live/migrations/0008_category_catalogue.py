from django.db import migrations, models


class Migration(migrations.Migration):
    """The category catalogue; the free-text columns made nullable so the next step can empty them."""

    dependencies = [("live", "0007_scheduled_streams")]

    operations = [
        migrations.CreateModel(
            name="Category",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "slug",
                    models.SlugField(
                        help_text="What the apps send: lowercase, never changed.", max_length=40, unique=True
                    ),
                ),
                ("name_en", models.CharField(max_length=60, verbose_name="name (English)")),
                ("name_ne", models.CharField(max_length=60, verbose_name="name (Nepali)")),
                (
                    "icon",
                    models.CharField(blank=True, help_text="An emoji shown beside the name (optional).", max_length=16),
                ),
                ("position", models.PositiveSmallIntegerField(default=100, help_text="Lower first in the apps' list.")),
                (
                    "is_active",
                    models.BooleanField(
                        default=True, help_text="Inactive ones cannot be chosen any more.", verbose_name="active"
                    ),
                ),
            ],
            options={"ordering": ["position", "slug"], "verbose_name_plural": "categories"},
        ),
        migrations.AlterField(
            model_name="stream",
            name="category",
            field=models.CharField(blank=True, db_index=True, max_length=40, null=True),
        ),
        migrations.AlterField(
            model_name="scheduledstream",
            name="category",
            field=models.CharField(blank=True, max_length=40, null=True),
        ),
    ]
