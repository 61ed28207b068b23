from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.registry import app_modules

ROLE_NAMES = ("Moderators", "Finance", "Ops")


def gather_role_permissions() -> dict[str, set[str]]:
    """Each role's permissions ("app_label.codename"), merged from every app's roles.py."""
    gathered: dict[str, set[str]] = {name: set() for name in ROLE_NAMES}
    for module in app_modules("roles"):
        for role, perms in module.GROUP_PERMISSIONS.items():
            gathered.setdefault(role, set()).update(perms)
    return gathered


class Command(BaseCommand):
    help = "Create or refresh the staff groups (Moderators, Finance, Ops) with exactly the permissions each needs."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        for role, perms in gather_role_permissions().items():
            group, _ = Group.objects.get_or_create(name=role)
            permissions = []
            for perm in sorted(perms):
                app_label, codename = perm.split(".", 1)
                found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
                if found is None:
                    raise CommandError(f"Unknown permission {perm} for {role}: run migrate first?")
                permissions.append(found)
            group.permissions.set(permissions)
            self.stdout.write(f"{role}: {len(permissions)} permissions")
