from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.storage import media_buckets_ensure


class Command(BaseCommand):
    help = (
        "Create the public and private media buckets when missing and give the public one its "
        "read-only policy (MinIO, AWS S3). Safe to rerun; does nothing with MEDIA_STORAGE=filesystem."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-public-policy",
            action="store_true",
            help="Leave bucket policies alone (R2, GCS: public access is set in their consoles).",
        )

    def handle(self, *args, **options) -> None:
        if settings.MEDIA_STORAGE != "s3":
            self.stdout.write("media is on the filesystem: no buckets to create")
            return
        for line in media_buckets_ensure(public_policy=not options["no_public_policy"]) or ["buckets already there"]:
            self.stdout.write(line)
