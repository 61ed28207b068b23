"""Playing through the API: the ledger, idempotency, limits and refusals, history."""

import uuid
from datetime import date

import pytest

from apps.accounts.models import User
from apps.games.models import FairSeed, GameRound
from apps.wallet.models import Account, JournalEntry
from apps.wallet.selectors import account_available, coins_balance, ledger_audit
from apps.wallet.services import platform_account
from tests.accounts.factories import UserFactory
from tests.games.factories import COIN, NOTHING, coins_give, game_create

pytestmark = pytest.mark.django_db


def play(client, game="spin_wheel", key=None, **body):
    return client.post(f"/api/v1/games/{game}/play/", body, format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex)


@pytest.fixture
def wheel():
    return game_create(slug="spin_wheel")


@pytest.fixture
def coin():
    return game_create(slug="coin_flip", slots=COIN)


@pytest.fixture
def player(user):
    coins_give(user, 10_000)
    return user


def nothing_written(user, balance: int) -> bool:
    return (
        coins_balance(user_id=user.pk) == balance
        and not GameRound.objects.filter(user=user).exists()
        and not JournalEntry.objects.filter(kind__in=["game_bet", "game_payout"]).exists()
    )


def test_games_list_shows_tables_limits_and_choices(auth_client, player, wheel, coin):
    response = auth_client(player).get("/api/v1/games/")
    assert response.status_code == 200
    games = {g["slug"]: g for g in response.json()}
    assert games["coin_flip"]["choices"] == ["heads", "tails"]
    assert games["spin_wheel"]["choices"] == []
    assert (games["spin_wheel"]["min_bet"], games["spin_wheel"]["max_bet"]) == (10, 10_000)
    assert games["spin_wheel"]["table"]["rtp"] == "0.95000000"
    assert sum(s["weight"] for s in games["spin_wheel"]["table"]["slots"]) == 1_000_000


def test_a_round_moves_stake_and_payout_through_the_game_pool(auth_client, player, wheel):
    # when
    response = play(auth_client(player), bet=100)
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    game_round = GameRound.objects.get(pk=body["id"])
    assert body["payout"] == 100 * int(float(body["multiplier"]) * 100) // 100 == game_round.payout
    assert coins_balance(user_id=player.pk) == 10_000 - 100 + game_round.payout
    bet_postings = {p.account.kind: p.amount for p in game_round.bet_entry.postings.select_related("account")}
    assert bet_postings == {Account.Kind.USER_COINS: -100, Account.Kind.GAME_POOL: 100}
    if game_round.payout:
        payout = {p.account.kind: p.amount for p in game_round.payout_entry.postings.select_related("account")}
        assert payout == {Account.Kind.GAME_POOL: -game_round.payout, Account.Kind.USER_COINS: game_round.payout}
    else:
        assert game_round.payout_entry is None
    assert account_available(account=platform_account(kind=Account.Kind.GAME_POOL)) == 100 - game_round.payout
    assert (body["nonce"], body["client_seed"]) == (0, game_round.seed.client_seed)
    assert body["server_seed_hash"] == game_round.seed.server_seed_hash
    assert ledger_audit() == []


def test_nonce_counts_rounds_and_each_round_is_its_own_entry(auth_client, player, wheel):
    client = auth_client(player)
    nonces = [play(client, bet=10).json()["nonce"] for _ in range(5)]
    assert nonces == [0, 1, 2, 3, 4]
    assert JournalEntry.objects.filter(kind="game_bet").count() == 5
    assert FairSeed.objects.get(user=player).next_nonce == 5
    assert ledger_audit() == []


def test_play_is_idempotent_per_key(auth_client, player, wheel):
    client = auth_client(player)
    first = play(client, key="spin-1", bet=50)
    second = play(client, key="spin-1", bet=50)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert GameRound.objects.count() == 1
    assert JournalEntry.objects.filter(kind="game_bet").count() == 1
    reused = play(client, key="spin-1", bet=60)
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")
    missing = client.post("/api/v1/games/spin_wheel/play/", {"bet": 50}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "idempotency_key_invalid")
    assert GameRound.objects.count() == 1


@pytest.mark.parametrize("bet", [9, 10_001])
def test_bets_outside_the_limits_are_refused(auth_client, player, wheel, bet):
    response = play(auth_client(player), bet=bet)
    assert response.status_code == 400
    assert response.json()["code"] == "bet_out_of_range"
    assert response.json()["details"] == {"min_bet": 10, "max_bet": 10_000, "bet": bet}
    assert nothing_written(player, 10_000)


def test_bad_input_is_refused_with_the_error_shape(auth_client, player, wheel):
    client = auth_client(player)
    for body in ({"bet": "lots"}, {"bet": 0}, {}, {"bet": 10, "seed": "x"}):
        response = play(client, **body)
        assert (response.status_code, response.json()["code"]) == (400, "invalid"), body
    assert nothing_written(player, 10_000)


@pytest.mark.parametrize("choice", ["", "edge", "HEADS"])
def test_coin_flip_needs_a_valid_pick(auth_client, player, coin, choice):
    response = play(auth_client(player), game="coin_flip", bet=100, choice=choice)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_choice"
    assert response.json()["details"]["choices"] == ["heads", "tails"]
    assert nothing_written(player, 10_000)


def test_coin_flip_pays_only_when_the_coin_shows_the_pick(auth_client, player, coin):
    client = auth_client(player)
    rounds = [play(client, game="coin_flip", bet=100, choice="heads").json() for _ in range(40)]
    for r in rounds:
        assert r["payout"] == (192 if r["face"] == "heads" else 0)
    assert {r["face"] for r in rounds} == {"heads", "tails"}  # 40 flips: both faces (fails 1 in 5e11)
    assert ledger_audit() == []


def test_wheel_refuses_a_pick(auth_client, player, wheel):
    response = play(auth_client(player), bet=100, choice="heads")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_choice")


def test_unknown_and_disabled_games(auth_client, player, wheel):
    client = auth_client(player)
    unknown = play(client, game="roulette", bet=100)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "game_not_found")
    wheel.is_enabled = False
    wheel.save()
    disabled = play(client, bet=100)
    assert (disabled.status_code, disabled.json()["code"]) == (409, "game_unavailable")
    assert nothing_written(player, 10_000)


def test_a_table_over_a_lowered_cap_stops_the_game(auth_client, player, wheel, settings):
    settings.GAMES_RTP_CAP = "0.90"
    response = play(auth_client(player), bet=100)
    assert (response.status_code, response.json()["code"]) == (409, "game_unavailable")
    assert nothing_written(player, 10_000)


def test_insufficient_coins_is_refused_and_writes_nothing(auth_client, wheel):
    user = UserFactory()
    coins_give(user, 50)
    response = play(auth_client(user), bet=100)
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_coins"
    assert response.json()["details"] == {"balance": 50, "needed": 100}
    assert nothing_written(user, 50)
    assert FairSeed.objects.filter(user=user, next_nonce__gt=0).count() == 0
    assert ledger_audit() == []


@pytest.mark.parametrize(
    ("profile", "code"),
    [
        ({"date_of_birth": date(2012, 1, 1)}, "age_restricted"),
        ({"date_of_birth": None}, "age_restricted"),
        ({"age_verification": User.AgeVerification.PENDING_REVIEW}, "age_check_failed"),
        ({"age_verification": User.AgeVerification.REJECTED}, "age_check_failed"),
        ({"age_verification": User.AgeVerification.UNVERIFIED}, "age_verification_required"),
    ],
    ids=["minor", "age-unknown", "held-for-review", "rejected", "unverified-adult"],
)
def test_minors_and_unverified_users_are_refused(auth_client, wheel, profile, code):
    user = UserFactory(**profile)
    coins_give(user, 1_000)
    response = play(auth_client(user), bet=100)
    assert response.status_code == 403
    assert response.json()["code"] == code
    assert nothing_written(user, 1_000)


def test_unverified_adults_may_play_when_verification_is_not_required(auth_client, wheel, settings):
    settings.GAMES_REQUIRE_AGE_VERIFIED = False
    user = UserFactory(age_verification=User.AgeVerification.UNVERIFIED)
    coins_give(user, 1_000)
    assert play(auth_client(user), bet=100).status_code == 201


def test_daily_loss_limit_counts_stakes_minus_payouts(auth_client, player, settings):
    # given a game that never pays and a limit of 100 coins a day
    game_create(slug="spin_wheel", slots=NOTHING)
    settings.GAMES_DAILY_LOSS_LIMIT = 100
    client = auth_client(player)
    # when
    assert play(client, bet=60).status_code == 201
    refused = play(client, bet=50)
    # then a bet that could take the loss past 100 is refused, a smaller one is not
    assert refused.status_code == 409
    assert refused.json()["code"] == "daily_loss_limit"
    assert refused.json()["details"] == {"limit": 100, "lost_today": 60, "bet": 50}
    assert play(client, bet=40).status_code == 201
    assert (play(client, bet=10).json()["code"]) == "daily_loss_limit"
    assert coins_balance(user_id=player.pk) == 10_000 - 100
    assert ledger_audit() == []


def test_game_endpoints_need_authentication_except_verify(api_client, wheel):
    assert api_client.get("/api/v1/games/").status_code == 401
    assert api_client.get("/api/v1/games/rounds/").status_code == 401
    assert api_client.get("/api/v1/games/seeds/").status_code == 401
    assert api_client.post("/api/v1/games/seeds/rotate/", {}, format="json").status_code == 401
    response = api_client.post("/api/v1/games/spin_wheel/play/", {"bet": 10}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 401


def test_rounds_are_mine_newest_first_in_cursor_pages(
    auth_client, player, other_user, wheel, django_assert_num_queries
):
    # given 5 rounds of mine and 1 of someone else
    coins_give(other_user, 1_000)
    play(auth_client(other_user), bet=10)
    client = auth_client(player)
    ids = [play(client, bet=10).json()["id"] for _ in range(5)]
    # when paging 2 at a time
    seen = []
    url = "/api/v1/games/rounds/?page_size=2"
    while url:
        with django_assert_num_queries(2):  # the user (JWT) and the page with its game and seed
            page = client.get(url).json()
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    # then
    assert seen == ids[::-1]
