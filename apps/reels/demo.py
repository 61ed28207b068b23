"""Demo data for the recommender: a small synthetic gift history, and a model trained on it.

`manage.py seed_gift_history` makes a larger history (4,000 sends by default) for evaluation.
"""

from collections.abc import Callable

from apps.accounts.models import User
from apps.gifts.recommender import model_active, recommender_train
from apps.reels.gift_history import gift_history_exists, gift_history_generate

DEMO_HISTORY = {"fans": 30, "hosts": 4, "days": 21, "sends": 400}


def seed(*, out: Callable[[str], None]) -> None:
    if not gift_history_exists():
        admin = User.objects.get(username="admin")
        gift_history_generate(**DEMO_HISTORY, granted_by=admin, out=out)
    if model_active() is None:
        model = recommender_train()
        if model is not None:
            out(f"Gift recommender trained: version {model.version} ({model.examples} examples).")
