from decimal import Decimal

from apps.games.models import Game, PrizeSlot
from apps.games.services import prize_table_publish

# label, face, multiplier, weight (ppm): the demo wheel, RTP 0.95
WHEEL = [
    ("Try again", "", "0", 434_000),
    ("Half back", "", "0.5", 100_000),
    ("Money back", "", "1", 175_000),
    ("1.5x", "", "1.5", 150_000),
    ("Double", "", "2", 100_000),
    ("5x", "", "5", 30_000),
    ("10x", "", "10", 10_000),
    ("Jackpot 50x", "", "50", 1_000),
]
COIN = [("Heads", "heads", "1.92", 500_000), ("Tails", "tails", "1.92", 500_000)]
NOTHING = [("Nothing", "", "0", 1_000_000)]  # always loses: makes balances predictable in races


def game_create(*, slug: str = "spin_wheel", slots=WHEEL, min_bet: int = 10, max_bet: int = 10_000) -> Game:
    """A game with its slots, and its table published through the real service."""
    game = Game.objects.create(slug=slug, name=slug.replace("_", " ").title(), min_bet=min_bet, max_bet=max_bet)
    slots_set(game=game, slots=slots)
    return game


def slots_set(*, game: Game, slots) -> None:
    game.slots.all().delete()
    PrizeSlot.objects.bulk_create(
        PrizeSlot(game=game, position=i, label=label, face=face, multiplier=Decimal(m), weight=w)
        for i, (label, face, m, w) in enumerate(slots, start=1)
    )
    prize_table_publish(game=game)
    game.refresh_from_db()


def coins_give(user, amount: int) -> None:
    """Give a user coins the way Finance does (a ledger entry from issuance)."""
    from apps.wallet.services import coins_grant
    from tests.accounts.factories import UserFactory

    finance = UserFactory(is_superuser=True, is_staff=True)
    coins_grant(user=user, amount=amount, reason="test coins", granted_by=finance)
