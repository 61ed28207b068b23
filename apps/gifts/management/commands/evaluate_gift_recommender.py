from django.core.management.base import BaseCommand, CommandError

from apps.gifts.recommender import TOP_K, recommender_evaluate


class Command(BaseCommand):
    help = "Hit-rate@5 on held-out sends (the latest share, by time) for the model and the popularity baseline."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--test-share", type=float, default=0.2, help="Share of the latest sends held out.")

    def handle(self, *args, **options) -> None:
        share = options["test_share"]
        if not 0.01 <= share <= 0.9:
            raise CommandError("--test-share must be between 0.01 and 0.9")
        try:
            result = recommender_evaluate(test_share=share)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Time split at {result.split_at:%Y-%m-%d %H:%M}: {result.train_sends} sends to train, "
            f"{result.test_sends} held out ({result.returning_test_sends} by senders with history)."
        )
        self.stdout.write(
            f"hit-rate@{TOP_K}  model: {result.model_hit_rate:.3f}  popularity: {result.baseline_hit_rate:.3f}"
        )
        self.stdout.write(
            f"hit-rate@{TOP_K} (senders with history)  model: {result.model_hit_rate_returning:.3f}  "
            f"popularity: {result.baseline_hit_rate_returning:.3f}"
        )
