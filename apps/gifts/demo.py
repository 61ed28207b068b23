"""A realistic gift tray: everyday gifts, Nepali favourites, big-ticket and OG-only gifts.

The images and Lottie files live on the CDN under these names (not in this repository).
"""

from collections.abc import Callable

from apps.gifts.models import Gift
from apps.gifts.services import gift_catalogue_invalidate

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
