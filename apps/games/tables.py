"""Prize tables: validation, return to player, and the outcome of a round (pure, no database)."""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.games.fairness import WEIGHT_TOTAL, multiplier_cents, payout_for, slot_for_roll, uniform_roll
from apps.games.registry import GameType

MAX_MULTIPLIER = Decimal("10000")


@dataclass(frozen=True)
class Slot:
    label: str
    face: str
    multiplier: Decimal
    weight: int

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "face": self.face, "multiplier": f"{self.multiplier:.2f}", "weight": self.weight}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Slot":
        return cls(data["label"], data["face"], Decimal(data["multiplier"]), int(data["weight"]))


def slots_from_json(rows: Iterable[dict[str, Any]]) -> list[Slot]:
    return [Slot.from_json(row) for row in rows]


def table_digest(slots: Sequence[Slot]) -> str:
    canonical = json.dumps([s.as_json() for s in slots], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def table_rtp_for(game_type: GameType, slots: Sequence[Slot], choice: str) -> Decimal:
    """Expected payout per coin bet for a pick: sum(weight * multiplier) / total weight, exact."""
    total = sum(s.weight * multiplier_cents(s.multiplier) for s in slots if game_type.pays(face=s.face, choice=choice))
    return Decimal(total) / Decimal(WEIGHT_TOTAL * 100)


def table_rtp(game_type: GameType, slots: Sequence[Slot]) -> Decimal:
    """The table's return to player: the best any pick can get (what the cap is checked against)."""
    return max(table_rtp_for(game_type, slots, choice) for choice in game_type.picks())


def table_variance_for(game_type: GameType, slots: Sequence[Slot], choice: str) -> Decimal:
    """Variance of the multiplier paid per round for a pick (for statistical checks)."""
    mean = table_rtp_for(game_type, slots, choice)
    second = sum(
        Decimal(s.weight) * s.multiplier * s.multiplier for s in slots if game_type.pays(face=s.face, choice=choice)
    ) / Decimal(WEIGHT_TOTAL)
    return second - mean * mean


def table_errors(game_type: GameType, slots: Sequence[Slot], rtp_cap: Decimal) -> list[str]:
    """Everything wrong with a prize table; empty when it may be published."""
    errors = []
    if not slots:
        return ["A prize table needs at least one slot."]
    total = sum(s.weight for s in slots)
    if total != WEIGHT_TOTAL:
        errors.append(
            f"Weights are parts per million and must sum to exactly {WEIGHT_TOTAL:,} (probabilities sum to 1);"
            f" they sum to {total:,}."
        )
    for position, s in enumerate(slots, start=1):
        if s.weight < 0:
            errors.append(f"Slot {position}: the weight cannot be negative.")
        if s.multiplier < 0 or s.multiplier > MAX_MULTIPLIER:
            errors.append(f"Slot {position}: the multiplier must be between 0 and {MAX_MULTIPLIER}.")
        elif s.multiplier != s.multiplier.quantize(Decimal("0.01")):
            errors.append(f"Slot {position}: multipliers have at most two decimals.")
        if s.face not in game_type.faces:
            allowed = ", ".join(repr(f) for f in game_type.faces)
            errors.append(f"Slot {position}: face {s.face!r} is not one of {allowed} for {game_type.name}.")
    if not errors:
        for choice in game_type.picks():
            if not any(s.weight > 0 and game_type.pays(face=s.face, choice=choice) for s in slots):
                errors.append(f"No slot can be drawn for the pick {choice!r}.")
        rtp = table_rtp(game_type, slots)
        if rtp > rtp_cap:
            errors.append(f"Return to player {rtp:.4%} is over the cap of {rtp_cap:.2%}.")
    return errors


@dataclass(frozen=True)
class Outcome:
    roll: int
    slot_index: int
    slot: Slot
    multiplier: Decimal  # what this pick is paid: the slot's multiplier, or 0 when the slot does not pay it

    def payout(self, bet: int) -> int:
        return payout_for(bet=bet, multiplier=self.multiplier)


def round_outcome(
    *, game_type: GameType, slots: Sequence[Slot], server_seed: str, client_seed: str, nonce: int, choice: str
) -> Outcome:
    """The outcome of one round: the provably fair roll mapped onto the table (see fairness.py)."""
    roll = uniform_roll(server_seed=server_seed, client_seed=client_seed, nonce=nonce, n=WEIGHT_TOTAL)
    index = slot_for_roll(roll, [s.weight for s in slots])
    slot = slots[index]
    multiplier = slot.multiplier if game_type.pays(face=slot.face, choice=choice) else Decimal("0.00")
    return Outcome(roll=roll, slot_index=index, slot=slot, multiplier=multiplier)
