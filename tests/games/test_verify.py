"""Seeds, rotation and verification: the fairness proof verifies, a tampered one does not, and the
README's standalone script agrees with the server."""

import io
import json
import re
import runpy
import sys
import uuid
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from apps.games.fairness import seed_hash
from apps.games.models import FairSeed, GameRound
from apps.games.selectors import round_verify
from tests.games.factories import COIN, coins_give, game_create

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def play(client, game="spin_wheel", **body):
    return client.post(f"/api/v1/games/{game}/play/", body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


@pytest.fixture
def player(user):
    coins_give(user, 10_000)
    game_create(slug="spin_wheel")
    game_create(slug="coin_flip", slots=COIN)
    return user


def test_seed_shows_its_commitment_and_rotation_reveals_the_matching_seed(auth_client, player):
    client = auth_client(player)
    # given the commitment shown before playing
    before = client.get("/api/v1/games/seeds/").json()
    assert before["previous"] is None
    assert "server_seed" not in before["active"]
    play(client, bet=10)
    play(client, bet=10)
    # when rotating with a new client seed
    response = client.post("/api/v1/games/seeds/rotate/", {"client_seed": "my-own-seed_1"}, format="json")
    # then the revealed seed hashes to the commitment, and the new pair starts at nonce 0
    assert response.status_code == 200
    body = response.json()
    assert body["revealed"]["server_seed_hash"] == before["active"]["server_seed_hash"]
    assert seed_hash(body["revealed"]["server_seed"]) == before["active"]["server_seed_hash"]
    assert body["revealed"]["next_nonce"] == 2
    assert (body["active"]["client_seed"], body["active"]["next_nonce"]) == ("my-own-seed_1", 0)
    assert body["active"]["server_seed_hash"] != before["active"]["server_seed_hash"]
    after = client.get("/api/v1/games/seeds/").json()
    assert after["previous"]["server_seed"] == body["revealed"]["server_seed"]
    assert play(client, bet=10).json()["client_seed"] == "my-own-seed_1"


@pytest.mark.parametrize("client_seed", ["", "has space", "a:b", "x" * 65])
def test_bad_client_seeds_are_refused(auth_client, player, client_seed):
    client = auth_client(player)
    before = client.get("/api/v1/games/seeds/").json()
    response = client.post("/api/v1/games/seeds/rotate/", {"client_seed": client_seed}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert client.get("/api/v1/games/seeds/").json() == before
    assert FairSeed.objects.filter(user=player).count() == 1


def test_a_round_is_verifiable_by_anyone_once_its_seed_is_revealed(auth_client, api_client, player):
    client = auth_client(player)
    round_id = play(client, game="coin_flip", bet=100, choice="tails").json()["id"]
    url = f"/api/v1/games/rounds/{round_id}/verify/"
    # before the rotation the seed stays secret
    secret = api_client.get(url).json()
    assert (secret["server_seed"], secret["verification"]) == (None, None)
    # after it, anyone (not signed in) can check the round
    client.post("/api/v1/games/seeds/rotate/", {}, format="json")
    response = api_client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["verification"]["verified"] is True
    assert body["verification"]["hash_matches"] and body["verification"]["outcome_matches"]
    assert seed_hash(body["server_seed"]) == body["server_seed_hash"]
    assert "user" not in body
    assert api_client.get("/api/v1/games/rounds/999999/verify/").json()["code"] == "round_not_found"


def test_a_tampered_seed_or_round_does_not_verify(auth_client, api_client, player):
    client = auth_client(player)
    round_id = play(client, bet=100).json()["id"]
    client.post("/api/v1/games/seeds/rotate/", {}, format="json")
    game_round = GameRound.objects.select_related("seed").get(pk=round_id)
    url = f"/api/v1/games/rounds/{round_id}/verify/"
    # a seed swapped after the fact no longer matches its commitment
    seed = game_round.seed
    original = seed.server_seed
    seed.server_seed = ("0" if original[0] != "0" else "1") + original[1:]
    seed.save(update_fields=["server_seed"])
    body = api_client.get(url).json()["verification"]
    assert (body["verified"], body["hash_matches"]) == (False, False)
    seed.server_seed = original
    seed.save(update_fields=["server_seed"])
    # a recorded outcome changed after the fact no longer matches the recomputation
    GameRound.objects.filter(pk=round_id).update(slot_index=(game_round.slot_index + 1) % 8, roll=game_round.roll)
    body = api_client.get(url).json()["verification"]
    assert (body["verified"], body["hash_matches"], body["outcome_matches"]) == (False, True, False)


def test_verification_function_catches_every_tampered_input(player, auth_client):
    client = auth_client(player)
    round_id = play(client, bet=100).json()["id"]
    client.post("/api/v1/games/seeds/rotate/", {}, format="json")
    r = GameRound.objects.select_related("seed", "table", "game").get(pk=round_id)
    honest = {
        "game_slug": "spin_wheel",
        "slots": r.table.slots,
        "server_seed": r.seed.server_seed,
        "server_seed_hash": r.seed.server_seed_hash,
        "client_seed": r.client_seed,
        "nonce": r.nonce,
        "choice": "",
        "bet": r.bet,
        "roll": r.roll,
        "slot_index": r.slot_index,
        "payout": r.payout,
    }
    assert round_verify(**honest)["verified"] is True
    for field, value in [
        ("client_seed", r.client_seed + "x"),
        ("nonce", r.nonce + 1),
        ("roll", (r.roll + 1) % 1_000_000),
        ("payout", r.payout + 1),
        ("server_seed_hash", "0" * 64),
    ]:
        assert round_verify(**{**honest, field: value})["verified"] is False, field


def _readme_script() -> str:
    section = README.read_text().split("## Games: verifying a round", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_script_verifies_a_round_by_hand(auth_client, api_client, player, tmp_path):
    # given a revealed coin-flip round and the verify endpoint's answer saved as round.json
    client = auth_client(player)
    round_id = play(client, game="coin_flip", bet=100, choice="heads").json()["id"]
    client.post("/api/v1/games/seeds/rotate/", {}, format="json")
    answer = api_client.get(f"/api/v1/games/rounds/{round_id}/verify/").json()
    (tmp_path / "round.json").write_text(json.dumps(answer))
    (tmp_path / "verify_round.py").write_text(_readme_script())
    # when the standalone script runs on it
    out = io.StringIO()
    argv = sys.argv
    sys.argv = ["verify_round.py", str(tmp_path / "round.json")]
    try:
        with redirect_stdout(out):
            runpy.run_path(str(tmp_path / "verify_round.py"), run_name="__main__")
    finally:
        sys.argv = argv
    # then it matches; and a tampered answer does not
    assert "MATCHES the recorded round" in out.getvalue()
    answer["payout"] += 1
    (tmp_path / "round.json").write_text(json.dumps(answer))
    out = io.StringIO()
    sys.argv = ["verify_round.py", str(tmp_path / "round.json")]
    try:
        with redirect_stdout(out):
            runpy.run_path(str(tmp_path / "verify_round.py"), run_name="__main__")
    finally:
        sys.argv = argv
    assert "DOES NOT MATCH" in out.getvalue()
