from collections.abc import Callable

from apps.payments.models import CoinPackage

# (name, price in paisa, coins, bonus coins)
DEMO_PACKAGES = [
    ("Starter", 10_000, 100, 0),
    ("Popular", 50_000, 500, 25),
    ("Big", 100_000, 1_000, 100),
    ("Mega", 500_000, 5_000, 750),
]


def seed(*, out: Callable[[str], None]) -> None:
    for order, (name, price, coins, bonus) in enumerate(DEMO_PACKAGES):
        CoinPackage.objects.get_or_create(
            name=name, defaults={"price_paisa": price, "coins": coins, "bonus_coins": bonus, "order": order}
        )
    out("Coin packages: " + ", ".join(f"{n} NPR {p // 100}" for n, p, _, _ in DEMO_PACKAGES))
