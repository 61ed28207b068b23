"""Demo games: the spin wheel and the coin flip, with published prize tables."""

from collections.abc import Callable
from decimal import Decimal

from apps.games.models import Game, PrizeSlot
from apps.games.services import prize_table_publish

# label, face, multiplier, weight (parts per million)
SPIN_WHEEL_SLOTS = [
    ("Try again", "", "0", 434_000),
    ("Half back", "", "0.5", 100_000),
    ("Money back", "", "1", 175_000),
    ("1.5x", "", "1.5", 150_000),
    ("Double", "", "2", 100_000),
    ("5x", "", "5", 30_000),
    ("10x", "", "10", 10_000),
    ("Jackpot 50x", "", "50", 1_000),
]  # RTP 95%
COIN_FLIP_SLOTS = [("Heads", "heads", "1.92", 500_000), ("Tails", "tails", "1.92", 500_000)]  # RTP 96%

DEMO_GAMES = [
    ("spin_wheel", "Spin wheel", 10, 10_000, SPIN_WHEEL_SLOTS),
    ("coin_flip", "Coin flip", 10, 5_000, COIN_FLIP_SLOTS),
]


def game_seed(*, slug: str, name: str, min_bet: int, max_bet: int, slots: list[tuple[str, str, str, int]]) -> Game:
    """Create a game with its slots and publish the table, unless it already exists."""
    game, created = Game.objects.get_or_create(
        slug=slug, defaults={"name": name, "min_bet": min_bet, "max_bet": max_bet}
    )
    if created:
        PrizeSlot.objects.bulk_create(
            PrizeSlot(game=game, position=i, label=label, face=face, multiplier=Decimal(m), weight=w)
            for i, (label, face, m, w) in enumerate(slots, start=1)
        )
        prize_table_publish(game=game)
    return game


def seed(*, out: Callable[[str], None]) -> None:
    for slug, name, min_bet, max_bet, slots in DEMO_GAMES:
        game_seed(slug=slug, name=name, min_bet=min_bet, max_bet=max_bet, slots=slots)
    out("Games: spin wheel (RTP 95%), coin flip (RTP 96%)")
