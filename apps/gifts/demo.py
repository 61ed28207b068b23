"""Demo data of the gifts app: a realistic gift tray (everyday gifts, Nepali favourites, big-ticket
and OG-only gifts), then a small synthetic gift history and a recommender trained on it.

The images and Lottie files live on the CDN under these names (not in this repository).
`manage.py seed_gift_history` makes a larger history (4,000 sends by default) for evaluation.
"""

from collections.abc import Callable

from apps.accounts.models import User
from apps.gifts.gift_history import gift_history_exists, gift_history_generate
from apps.gifts.models import Gift
from apps.gifts.recommender import model_active, recommender_train
from apps.gifts.services import gift_catalogue_invalidate

DEMO_HISTORY = {"fans": 30, "hosts": 4, "days": 21, "sends": 400}

CDN = "https://cdn.halobuzz.app/gifts"
C = Gift.Category

# name, coins, category, og only
DEMO_GIFTS = [
    ("Rose", 1, C.CLASSIC, False),
    ("Heart", 5, C.CLASSIC, False),
    ("Thumbs Up", 9, C.CLASSIC, False),
    ("Chiya", 10, C.NEPALI, False),
    ("Momo", 20, C.NEPALI, False),
    ("Sel Roti", 25, C.NEPALI, False),
    ("Dhaka Topi", 49, C.NEPALI, False),
    ("Rhododendron", 50, C.NEPALI, False),
    ("Madal", 99, C.NEPALI, False),
    ("Teddy Bear", 99, C.CLASSIC, False),
    ("Khukuri", 199, C.NEPALI, False),
    ("Diyo", 150, C.FESTIVAL, False),
    ("Tihar Lights", 299, C.FESTIVAL, False),
    ("Dashain Ping", 499, C.FESTIVAL, False),
    ("Danphe", 999, C.NEPALI, False),
    ("One-horned Rhino", 1999, C.NEPALI, False),
    ("Sports Car", 2999, C.LUXURY, False),
    ("Everest", 9999, C.LUXURY, False),
    ("Golden Crown", 4999, C.LUXURY, True),
    ("OG Dragon", 19999, C.LUXURY, True),
]


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def seed(*, out: Callable[[str], None]) -> None:
    catalogue_seed(out=out)
    recommender_seed(out=out)


def catalogue_seed(*, out: Callable[[str], None]) -> None:
    for order, (name, coins, category, og_only) in enumerate(DEMO_GIFTS, start=1):
        Gift.objects.get_or_create(
            name=name,
            defaults={
                "coin_price": coins,
                "category": category,
                "og_only": og_only,
                "order": order * 10,
                "icon_url": f"{CDN}/{_slug(name)}.png",
                "animation_url": f"{CDN}/{_slug(name)}.json",
            },
        )
    gift_catalogue_invalidate()
    out(f"Gift catalogue: {Gift.objects.filter(is_active=True).count()} active gifts")


def recommender_seed(*, out: Callable[[str], None]) -> None:
    """A small synthetic history and a model trained on it (needs the catalogue and the demo `admin`)."""
    if not gift_history_exists():
        admin = User.objects.get(username="admin")
        gift_history_generate(**DEMO_HISTORY, granted_by=admin, out=out)
    if model_active() is None:
        model = recommender_train()
        if model is not None:
            out(f"Gift recommender trained: version {model.version} ({model.examples} examples).")
