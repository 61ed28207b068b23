from django.core.management.base import BaseCommand

from apps.gifts.recommender import FEATURES, recommender_train


class Command(BaseCommand):
    help = "Train the gift recommender on recent gift history and store it as a new version."

    def handle(self, *args, **options) -> None:
        model = recommender_train()
        if model is None:
            self.stdout.write("No gift sends in the window: nothing to train on (popularity is served).")
            return
        self.stdout.write(f"Stored gift recommender {model.version} ({model.examples} training examples).")
        for name, weight in zip(FEATURES, model.weights, strict=True):
            self.stdout.write(f"  {name:32s} {weight:+.3f}")
