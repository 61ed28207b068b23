"""Writes of the games app: publishing prize tables, seeds, and playing a round.

A round is one transaction: the user's coin account row is locked (the per-user lock: a user's
rounds run one at a time, so balance, daily loss limit and nonce are checked without races), the
outcome is drawn, and two ledger entries move the coins through the game pool:
bet (user -stake, pool +stake) and, when something is won, payout (pool -payout, user +payout).
Their refs are "<seed id>:<nonce>": unique per round.
"""

import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import user_require_adult
from apps.games import selectors
from apps.games.exceptions import (
    AgeVerificationRequired,
    BetOutOfRange,
    DailyLossLimitReached,
    GameNotFound,
    GameUnavailable,
    InvalidChoice,
    PrizeTableInvalid,
)
from apps.games.fairness import client_seed_generate, seed_hash, server_seed_generate
from apps.games.models import FairSeed, Game, GameRound, PrizeTable
from apps.games.registry import game_type_get
from apps.games.tables import Slot, round_outcome, slots_from_json, table_digest, table_errors, table_rtp
from apps.wallet.services import (
    account_for_user,
    coins_account_lock,
    ledger_post,
    platform_account,
    spending_check,
    spending_record,
)
from apps.wallet.types import AccountKind

logger = logging.getLogger(__name__)


def rtp_cap() -> Decimal:
    return Decimal(str(settings.GAMES_RTP_CAP))


def prize_table_publish(*, game: Game, created_by: User | None = None) -> PrizeTable:
    """Validate the game's prize slots and make them the table new rounds are drawn from.

    Raises PrizeTableInvalid (details.errors) when the weights do not sum to exactly 1,000,000,
    the return to player is over GAMES_RTP_CAP, or a slot is malformed. Publishing the same slots
    again reuses the existing table.
    """
    game_type = game_type_get(game.slug)
    if game_type is None:
        raise PrizeTableInvalid(details={"errors": [f"{game.slug!r} is not a registered game type."]})
    slots = [Slot(s.label, s.face, s.multiplier, s.weight) for s in game.slots.order_by("position")]
    errors = table_errors(game_type, slots, rtp_cap())
    if errors:
        raise PrizeTableInvalid(details={"errors": errors})
    table, _ = PrizeTable.objects.get_or_create(
        game=game,
        digest=table_digest(slots),
        defaults={
            "slots": [s.as_json() for s in slots],
            "rtp": table_rtp(game_type, slots),
            "created_by": created_by,
        },
    )
    if game.current_table_id != table.pk:
        game.current_table = table
        game.save(update_fields=["current_table", "updated_at"])
        logger.info("prize table published", extra={"game": game.slug, "table_id": table.pk, "rtp": str(table.rtp)})
    return table


def fair_seed_active(*, user_id: int) -> FairSeed:
    """The user's active (unrevealed) seed pair, created with a random client seed on first use."""
    seed = FairSeed.objects.filter(user_id=user_id, revealed_at__isnull=True).first()
    if seed is not None:
        return seed
    server_seed = server_seed_generate()
    try:
        with transaction.atomic():
            return FairSeed.objects.create(
                user_id=user_id,
                server_seed=server_seed,
                server_seed_hash=seed_hash(server_seed),
                client_seed=client_seed_generate(),
            )
    except IntegrityError:  # a concurrent request created it first
        return FairSeed.objects.get(user_id=user_id, revealed_at__isnull=True)


def _lock_user(user_id: int) -> None:
    # Lock order everywhere in this app: the user's coin account (through the wallet), then their seed.
    coins_account_lock(user_id=user_id)


@transaction.atomic
def fair_seed_rotate(*, user: User, client_seed: str | None = None) -> tuple[FairSeed, FairSeed]:
    """Reveal the active server seed and start a new pair (nonce 0), with a new client seed if given.

    Returns (revealed, new). Rounds of the revealed seed can then be verified by anyone.
    """
    _lock_user(user.pk)
    current = FairSeed.objects.select_for_update().get(pk=fair_seed_active(user_id=user.pk).pk)
    current.revealed_at = timezone.now()
    current.save(update_fields=["revealed_at"])
    server_seed = server_seed_generate()
    new = FairSeed.objects.create(
        user=user,
        server_seed=server_seed,
        server_seed_hash=seed_hash(server_seed),
        client_seed=client_seed or current.client_seed,
    )
    logger.info("fair seed rotated", extra={"user_id": user.pk, "revealed_seed_id": current.pk})
    return current, new


def _require_player(user: User) -> None:
    user_require_adult(user=user)
    if settings.GAMES_REQUIRE_AGE_VERIFIED and user.age_verification != User.AgeVerification.VERIFIED:
        raise AgeVerificationRequired(details={"age_verification": user.age_verification})


@transaction.atomic
def game_play(*, user: User, game_slug: str, bet: int, choice: str = "") -> GameRound:
    """Play one round: check the player and the bet, draw the outcome, move the coins.

    Refused: minors and unverified accounts (AgeRestricted, AgeVerificationRequired), unknown or
    disabled games (GameNotFound, GameUnavailable), a bet outside the game's limits
    (BetOutOfRange), a missing or unknown pick (InvalidChoice), a bet that could take today's net
    loss past GAMES_DAILY_LOSS_LIMIT (DailyLossLimitReached), a bet the player's spending controls
    do not allow (SpendingPaused, SpendingLimitReached: the bet counts as spent), too few coins
    (InsufficientCoins). Nothing is written when refused.
    """
    _require_player(user)
    game = Game.objects.select_related("current_table").filter(slug=game_slug).first()
    game_type = game_type_get(game_slug)
    if game is None or game_type is None:
        raise GameNotFound(details={"game": game_slug})
    table = game.current_table
    if not game.is_enabled or table is None or table.rtp > rtp_cap():
        raise GameUnavailable(details={"game": game_slug})
    if not game.min_bet <= bet <= game.max_bet:
        raise BetOutOfRange(details={"min_bet": game.min_bet, "max_bet": game.max_bet, "bet": bet})
    if choice not in game_type.picks():
        raise InvalidChoice(details={"choices": list(game_type.choices), "choice": choice})

    # The spending controls' row lock comes before the coin account's (apps.wallet.spending).
    controls = spending_check(user_id=user.pk, coins=bet)
    _lock_user(user.pk)
    lost_today = selectors.loss_today(user_id=user.pk)
    limit = settings.GAMES_DAILY_LOSS_LIMIT
    if lost_today + bet > limit:
        raise DailyLossLimitReached(details={"limit": limit, "lost_today": lost_today, "bet": bet})
    seed = FairSeed.objects.select_for_update().get(pk=fair_seed_active(user_id=user.pk).pk)
    nonce = seed.next_nonce
    outcome = round_outcome(
        game_type=game_type,
        slots=slots_from_json(table.slots),
        server_seed=seed.server_seed,
        client_seed=seed.client_seed,
        nonce=nonce,
        choice=choice,
    )
    payout = outcome.payout(bet)

    account, pool = account_for_user(user_id=user.pk), platform_account(kind=AccountKind.GAME_POOL)
    ref = f"{seed.pk}:{nonce}"
    memo = f"{game.name} round {ref}"
    bet_entry = ledger_post(
        kind="game_bet", ref=ref, postings=[(account, -bet), (pool, bet)], memo=memo, created_by=user
    )
    payout_entry = None
    if payout > 0:
        payout_entry = ledger_post(
            kind="game_payout", ref=ref, postings=[(pool, -payout), (account, payout)], memo=memo, created_by=user
        )
    spending_record(controls=controls, coins=bet)
    seed.next_nonce = nonce + 1
    seed.save(update_fields=["next_nonce"])
    game_round = GameRound.objects.create(
        user=user,
        game=game,
        table=table,
        seed=seed,
        client_seed=seed.client_seed,
        nonce=nonce,
        choice=choice,
        bet=bet,
        roll=outcome.roll,
        slot_index=outcome.slot_index,
        label=outcome.slot.label,
        face=outcome.slot.face,
        multiplier=outcome.multiplier,
        payout=payout,
        bet_entry=bet_entry,
        payout_entry=payout_entry,
    )
    logger.info("game round", extra={"round_id": game_round.pk, "game": game.slug, "bet": bet, "payout": payout})
    return game_round
