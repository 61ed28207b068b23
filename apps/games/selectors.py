"""Reads of the games app: games on offer, my rounds, loss today, verification, RTP reports."""

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.games.fairness import seed_hash
from apps.games.models import FairSeed, Game, GameRound
from apps.games.registry import game_type_get
from apps.games.tables import round_outcome, slots_from_json


def game_list_playable() -> QuerySet[Game]:
    return Game.objects.filter(is_enabled=True, current_table__isnull=False).select_related("current_table")


def day_start(day: date) -> datetime:
    """Midnight of a local (settings.TIME_ZONE) day, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def loss_today(*, user_id: int) -> int:
    """Coins the user lost at games today (local day): stakes minus payouts, never below 0."""
    totals = GameRound.objects.filter(user_id=user_id, created_at__gte=day_start(timezone.localdate())).aggregate(
        staked=Sum("bet"), paid=Sum("payout")
    )
    return max(0, (totals["staked"] or 0) - (totals["paid"] or 0))


def round_list(*, user_id: int) -> QuerySet[GameRound]:
    return GameRound.objects.filter(user_id=user_id).select_related("game", "seed")


def fair_seed_last_revealed(*, user_id: int) -> FairSeed | None:
    return FairSeed.objects.filter(user_id=user_id, revealed_at__isnull=False).order_by("-revealed_at").first()


def round_verify(
    *,
    game_slug: str,
    slots: list[dict[str, Any]],
    server_seed: str,
    server_seed_hash: str,
    client_seed: str,
    nonce: int,
    choice: str,
    bet: int,
    roll: int,
    slot_index: int,
    payout: int,
) -> dict[str, Any]:
    """Recompute a round from its revealed seed and compare with what was recorded."""
    game_type = game_type_get(game_slug)
    if game_type is None:
        raise ValueError(f"unknown game type {game_slug!r}")
    outcome = round_outcome(
        game_type=game_type,
        slots=slots_from_json(slots),
        server_seed=server_seed,
        client_seed=client_seed,
        nonce=nonce,
        choice=choice,
    )
    hash_matches = seed_hash(server_seed) == server_seed_hash
    computed = {"roll": outcome.roll, "slot_index": outcome.slot_index, "payout": outcome.payout(bet)}
    outcome_matches = computed == {"roll": roll, "slot_index": slot_index, "payout": payout}
    return {
        "hash_matches": hash_matches,
        "outcome_matches": outcome_matches,
        "verified": hash_matches and outcome_matches,
        "computed": {**computed, "multiplier": f"{outcome.multiplier:.2f}"},
    }


def round_get_for_verify(*, round_id: int) -> GameRound | None:
    return GameRound.objects.select_related("game", "table", "seed").filter(pk=round_id).first()


def round_verification(*, game_round: GameRound) -> dict[str, Any] | None:
    """The recomputation of a round, or None while its server seed is still secret."""
    seed = game_round.seed
    if not seed.is_revealed:
        return None
    return round_verify(
        game_slug=game_round.game.slug,
        slots=game_round.table.slots,
        server_seed=seed.server_seed,
        server_seed_hash=seed.server_seed_hash,
        client_seed=game_round.client_seed,
        nonce=game_round.nonce,
        choice=game_round.choice,
        bet=game_round.bet,
        roll=game_round.roll,
        slot_index=game_round.slot_index,
        payout=game_round.payout,
    )


def rtp_by_game_day(*, days: int = 30) -> list[dict[str, Any]]:
    """Realised return to player per game and local day, computed from the rounds (newest day first)."""
    since = day_start(timezone.localdate() - timedelta(days=days - 1))
    rows = (
        GameRound.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("game__slug", "game__name", "day")
        .annotate(rounds=Count("id"), staked=Sum("bet"), paid=Sum("payout"))
        .order_by("-day", "game__name")
    )
    tables = {
        g.slug: g.current_table.rtp if g.current_table else None for g in Game.objects.select_related("current_table")
    }
    return [
        {
            **row,
            "realised_rtp": row["paid"] / row["staked"] if row["staked"] else None,
            "table_rtp": tables.get(row["game__slug"]),
            "house_result": row["staked"] - row["paid"],
        }
        for row in rows
    ]
