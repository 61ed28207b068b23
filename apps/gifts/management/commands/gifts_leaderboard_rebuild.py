from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.gifts.services import leaderboard_rebuild


class Command(BaseCommand):
    help = "Recompute the Redis leaderboards (today, this week, all time, recent streams) from GiftSend."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--stream-days", type=int, default=30, help="Rebuild streams gifted in these days.")

    def handle(self, *args, **options) -> None:
        if settings.GIFT_LEADERBOARD_BACKEND != "redis":
            raise CommandError("GIFT_LEADERBOARD_BACKEND is not redis: the SQL leaderboards need no rebuild.")
        written = leaderboard_rebuild(stream_days=options["stream_days"])
        self.stdout.write(self.style.SUCCESS(f"rebuilt {written} leaderboard(s) from GiftSend"))
