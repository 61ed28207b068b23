"""Demo OG tiers, and an OG membership for `viewer` so the room shows a badge."""

from collections.abc import Callable

from apps.accounts.models import User
from apps.og.models import OgMembership, OgTier
from apps.og.services import og_buy

DEMO_TIERS = [
    # level, name, price, days, daily bonus, badge, entrance effect, OG-only gifts, chat colour
    (1, "Bronze", 1_000, 30, 10, "og_bronze", "sparkle", False, "#CD7F32"),
    (2, "Silver", 3_000, 30, 40, "og_silver", "silver_wind", False, "#C0C0C0"),
    (3, "Gold", 8_000, 30, 120, "og_gold", "golden_gate", True, "#FFB400"),
    (4, "Platinum", 20_000, 30, 350, "og_platinum", "platinum_comet", True, "#7FDBFF"),
    (5, "Diamond", 50_000, 30, 1_000, "og_diamond", "diamond_dragon", True, "#B388FF"),
]


def seed(*, out: Callable[[str], None]) -> None:
    for level, name, price, days, bonus, badge, effect, og_gifts, colour in DEMO_TIERS:
        OgTier.objects.get_or_create(
            level=level,
            defaults={
                "name": name,
                "price_coins": price,
                "duration_days": days,
                "daily_bonus_coins": bonus,
                "badge": badge,
                "entrance_effect": effect,
                "og_only_gifts": og_gifts,
                "chat_color": colour,
            },
        )
    viewer = User.objects.filter(username="viewer").first()
    if viewer is not None and not OgMembership.objects.filter(user=viewer).exists():
        og_buy(user=viewer, tier_id=OgTier.objects.get(level=3).pk)  # paid from viewer's demo coins
    out("OG tiers: " + ", ".join(t[1] for t in DEMO_TIERS) + " (viewer is OG Gold)")
