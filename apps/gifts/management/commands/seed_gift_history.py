from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.gifts.gift_history import gift_history_exists, gift_history_generate


class Command(BaseCommand):
    help = (
        "Generate synthetic gift history (fans with preferences, hosts with popularity) through the real "
        "gift service, for the recommender's training and evaluation. Needs the gift catalogue (seed_demo)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fans", type=int, default=80)
        parser.add_argument("--hosts", type=int, default=8)
        parser.add_argument("--days", type=int, default=40)
        parser.add_argument("--sends", type=int, default=4000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--again", action="store_true", help="Add more history even if some exists.")

    def handle(self, *args, **options) -> None:
        if gift_history_exists() and not options["again"]:
            self.stdout.write("Synthetic gift history already exists (pass --again to add more).")
            return
        granted_by = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        if granted_by is None:
            raise CommandError("Coins are granted by a superuser: create one first (seed_demo makes 'admin').")
        try:
            stats = gift_history_generate(
                fans=options["fans"],
                hosts=options["hosts"],
                days=options["days"],
                sends=options["sends"],
                seed=options["seed"],
                granted_by=granted_by,
                out=self.stdout.write,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{stats.sends} sends, {stats.coins} coins spent."))
