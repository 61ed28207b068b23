"""The games the engine knows. A new game is a `GameType` registered here plus, in the admin, a Game
row with its prize table; the engine (bets, limits, fairness, ledger) is shared by all of them.

A game type says what the player may pick (`choices`) and which prize-table slots pay for a pick
(`pays`). Without choices every slot pays its multiplier (the spin wheel). With choices each slot
carries a `face` and pays only when it matches the pick (the coin flip: the coin lands on the
drawn slot's face).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GameType:
    slug: str
    name: str
    description: str
    choices: tuple[str, ...] = ()

    @property
    def faces(self) -> tuple[str, ...]:
        """The faces a slot may carry ("" only, for games without a pick)."""
        return self.choices or ("",)

    def pays(self, *, face: str, choice: str) -> bool:
        """Whether a slot with this face pays its multiplier to a player who picked `choice`."""
        return not self.choices or face == choice

    def picks(self) -> tuple[str, ...]:
        """Every pick a player can make ("" for games without a pick): RTP is checked for each."""
        return self.choices or ("",)


GAME_TYPES: dict[str, GameType] = {}


def game_type_register(game_type: GameType) -> GameType:
    if game_type.slug in GAME_TYPES:
        raise ValueError(f"game type {game_type.slug!r} is registered twice")
    GAME_TYPES[game_type.slug] = game_type
    return game_type


def game_type_get(slug: str) -> GameType | None:
    return GAME_TYPES.get(slug)


SPIN_WHEEL = game_type_register(
    GameType(
        slug="spin_wheel",
        name="Spin wheel",
        description="Spin the wheel: the segment it stops on pays its multiple of your bet.",
    )
)

COIN_FLIP = game_type_register(
    GameType(
        slug="coin_flip",
        name="Coin flip",
        description="Pick heads or tails: if the coin lands on your pick you win its multiple of your bet.",
        choices=("heads", "tails"),
    )
)
