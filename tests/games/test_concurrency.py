"""Parallel plays against PostgreSQL with real threads: no overdraft, no limit overrun, no double round."""

import uuid

import pytest
from rest_framework.test import APIClient

from apps.accounts.services import tokens_issue
from apps.games.exceptions import DailyLossLimitReached
from apps.games.models import GameRound
from apps.games.services import game_play
from apps.wallet.exceptions import InsufficientCoins
from apps.wallet.models import Account
from apps.wallet.selectors import account_available, coins_balance, ledger_audit
from apps.wallet.services import platform_account
from tests.accounts.factories import UserFactory
from tests.games.factories import NOTHING, coins_give, game_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_plays_from_one_balance_never_overdraw(race):
    # given 1,000 coins and a game that never pays
    game_create(slug="spin_wheel", slots=NOTHING)
    user = UserFactory()
    coins_give(user, 1_000)
    # when ten 200-coin bets race
    results = race([lambda: game_play(user=user, game_slug="spin_wheel", bet=200)] * 10)
    # then exactly five were played and five refused
    played = [r for r in results if isinstance(r, GameRound)]
    refused = [r for r in results if isinstance(r, InsufficientCoins)]
    assert (len(played), len(refused)) == (5, 5), results
    assert coins_balance(user_id=user.pk) == 0
    assert sorted(r.nonce for r in played) == [0, 1, 2, 3, 4]
    assert ledger_audit() == []


def test_parallel_plays_with_payouts_keep_every_coin_accounted_for(race):
    # given the demo wheel (it pays) and 2,000 coins
    game_create(slug="spin_wheel")
    user = UserFactory()
    coins_give(user, 2_000)
    # when 16 bets of 300 race
    results = race([lambda: game_play(user=user, game_slug="spin_wheel", bet=300)] * 16)
    played = [r for r in results if isinstance(r, GameRound)]
    assert all(isinstance(r, GameRound | InsufficientCoins) for r in results), results
    # then the balance is what the rounds say, never below zero, and the pool holds the difference
    balance = 2_000 - sum(r.bet for r in played) + sum(r.payout for r in played)
    assert coins_balance(user_id=user.pk) == balance >= 0
    assert account_available(account=platform_account(kind=Account.Kind.GAME_POOL)) == 2_000 - balance
    assert sorted(r.nonce for r in played) == list(range(len(played)))
    assert ledger_audit() == []


def test_parallel_plays_cannot_overrun_the_daily_loss_limit(settings, race):
    # given plenty of coins, a game that never pays and a 500-coin daily loss limit
    settings.GAMES_DAILY_LOSS_LIMIT = 500
    game_create(slug="spin_wheel", slots=NOTHING)
    user = UserFactory()
    coins_give(user, 10_000)
    # when ten 100-coin bets race
    results = race([lambda: game_play(user=user, game_slug="spin_wheel", bet=100)] * 10)
    # then only five fit under the limit
    assert sum(isinstance(r, GameRound) for r in results) == 5
    assert sum(isinstance(r, DailyLossLimitReached) for r in results) == 5
    assert coins_balance(user_id=user.pk) == 9_500
    assert ledger_audit() == []


def test_parallel_retries_of_one_request_play_one_round(race):
    # given
    game_create(slug="spin_wheel")
    user = UserFactory()
    coins_give(user, 1_000)
    token = tokens_issue(user=user)["access"]
    key = uuid.uuid4().hex

    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.post("/api/v1/games/spin_wheel/play/", {"bet": 100}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    # when six copies of the same request arrive at once
    responses = race([send] * 6)
    # then one round was played and every copy got its answer
    assert all(r.status_code == 201 for r in responses), responses
    assert len({r.json()["id"] for r in responses}) == 1
    assert GameRound.objects.count() == 1
    assert ledger_audit() == []
