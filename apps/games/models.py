"""Games: the games on offer with their editable prize slots, immutable published prize tables,
users' provably fair seeds, and every round played (evidence; each points at its ledger entries)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from apps.games.fairness import WEIGHT_TOTAL

client_seed_validator = RegexValidator(r"^[A-Za-z0-9_-]{1,64}$", "1 to 64 letters, digits, '_' or '-'.")


class Game(models.Model):
    """A game on offer. `slug` names its type in apps/games/registry.py."""

    slug = models.SlugField(max_length=40, unique=True, help_text="The game type (spin_wheel, coin_flip, ...).")
    name = models.CharField(max_length=60)
    is_enabled = models.BooleanField(default=True)
    min_bet = models.BigIntegerField(default=10, validators=[MinValueValidator(1)], help_text="Coins.")
    max_bet = models.BigIntegerField(default=10_000, validators=[MinValueValidator(1)], help_text="Coins.")
    current_table = models.ForeignKey(
        "PrizeTable", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(min_bet__gte=1), name="game_min_bet_positive"),
            models.CheckConstraint(condition=Q(max_bet__gte=F("min_bet")), name="game_max_bet_at_least_min"),
        ]

    def __str__(self) -> str:
        return self.name


class PrizeSlot(models.Model):
    """One row of a game's editable prize table. Saving the table in the admin publishes a PrizeTable."""

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField(help_text="Order on the wheel / in the table.")
    label = models.CharField(max_length=40)
    face = models.CharField(max_length=20, blank=True, help_text="For games with a pick: the face this slot shows.")
    multiplier = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("10000"))],
        help_text="Pays bet x multiplier (rounded down).",
    )
    weight = models.PositiveIntegerField(
        validators=[MaxValueValidator(WEIGHT_TOTAL)],
        help_text=f"Probability in parts per million: the weights of a table sum to exactly {WEIGHT_TOTAL:,}.",
    )

    class Meta:
        ordering = ["game", "position"]
        constraints = [models.UniqueConstraint(fields=["game", "position"], name="prize_slot_game_position_uniq")]

    def __str__(self) -> str:
        return f"{self.label} x{self.multiplier}"


class PrizeTable(models.Model):
    """A published prize table, never changed: rounds point at the one they were drawn from."""

    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="tables")
    slots = models.JSONField(help_text='[{"label", "face", "multiplier": "1.50", "weight": 150000}, ...]')
    rtp = models.DecimalField(max_digits=12, decimal_places=8, help_text="Return to player of the best pick.")
    digest = models.CharField(max_length=64, help_text="SHA-256 of the canonical slots.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["game", "digest"], name="prize_table_game_digest_uniq")]

    def __str__(self) -> str:
        return f"{self.game_id} table #{self.pk} (RTP {self.rtp:.2%})"


class FairSeed(models.Model):
    """A user's seed pair. The server seed stays secret (only its hash is shown) until rotated."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fair_seeds")
    server_seed = models.CharField(max_length=64)
    server_seed_hash = models.CharField(max_length=64)
    client_seed = models.CharField(max_length=64, validators=[client_seed_validator])
    next_nonce = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    revealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(revealed_at__isnull=True), name="fair_seed_one_active_per_user"
            ),
            models.UniqueConstraint(fields=["server_seed_hash"], name="fair_seed_hash_uniq"),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="fair_seed_user_created_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.server_seed_hash[:12]}"

    @property
    def is_revealed(self) -> bool:
        return self.revealed_at is not None


class GameRound(models.Model):
    """One play: the bet, the provably fair draw and the payout, with the ledger entries that moved them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="game_rounds")
    game = models.ForeignKey(Game, on_delete=models.PROTECT, related_name="rounds")
    table = models.ForeignKey(PrizeTable, on_delete=models.PROTECT, related_name="rounds")
    seed = models.ForeignKey(FairSeed, on_delete=models.PROTECT, related_name="rounds")
    client_seed = models.CharField(max_length=64)
    nonce = models.BigIntegerField()
    choice = models.CharField(max_length=20, blank=True)
    bet = models.BigIntegerField()
    roll = models.PositiveIntegerField()
    slot_index = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=40)
    face = models.CharField(max_length=20, blank=True)
    multiplier = models.DecimalField(max_digits=7, decimal_places=2)
    payout = models.BigIntegerField()
    bet_entry = models.OneToOneField("wallet.JournalEntry", on_delete=models.PROTECT, related_name="game_bet")
    payout_entry = models.OneToOneField(
        "wallet.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="game_payout"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["seed", "nonce"], name="game_round_seed_nonce_uniq"),
            models.CheckConstraint(condition=Q(bet__gt=0), name="game_round_bet_positive"),
            models.CheckConstraint(condition=Q(payout__gte=0), name="game_round_payout_non_negative"),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="game_round_user_created_idx"),
            models.Index(fields=["game", "created_at"], name="game_round_game_created_idx"),
        ]

    def __str__(self) -> str:
        return f"round #{self.pk} {self.game_id}: {self.bet} -> {self.payout}"


class GameDayReport(GameRound):
    """Admin-only view: realised return to player per game and day, computed from rounds."""

    class Meta:
        proxy = True
        verbose_name = "RTP by game and day"
        verbose_name_plural = "RTP by game and day"
