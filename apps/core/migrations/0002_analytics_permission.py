"""The `core.view_analytics` permission for the admin analytics page (no model of its own: it hangs
on the core app's idempotency-key content type)."""

from django.db import migrations


def create_permission(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    content_type, _ = ContentType.objects.get_or_create(app_label="core", model="idempotencykey")
    Permission.objects.get_or_create(
        content_type=content_type, codename="view_analytics", defaults={"name": "Can view the analytics page"}
    )


def delete_permission(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="core", codename="view_analytics").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_idempotency_key"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_permission, delete_permission)]
