from django.core.management.base import BaseCommand
from django.db import transaction

from apps.core.registry import app_modules


class Command(BaseCommand):
    help = "Create demo users, catalogues and a live stream. Safe to run again: nothing is duplicated."

    def handle(self, *args, **options) -> None:
        for module in app_modules("demo"):
            with transaction.atomic():
                module.seed(out=self.stdout.write)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
