"""Ops edit prize tables in the admin (validated, published) and read realised RTP per game and day."""

import uuid
from decimal import Decimal

import pytest

from apps.games.models import Game, PrizeTable
from tests.accounts.factories import UserFactory
from tests.games.factories import NOTHING, WHEEL, coins_give, game_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def change_form(game: Game, rows) -> dict:
    """The admin change form of a game with its prize slots replaced by `rows`."""
    existing = list(game.slots.order_by("position"))
    data = {
        "slug": game.slug,
        "name": game.name,
        "is_enabled": "on",
        "min_bet": game.min_bet,
        "max_bet": game.max_bet,
        "slots-TOTAL_FORMS": max(len(rows), len(existing)),
        "slots-INITIAL_FORMS": len(existing),
        "slots-MIN_NUM_FORMS": 0,
        "slots-MAX_NUM_FORMS": 1000,
    }
    for i in range(max(len(rows), len(existing))):
        if i < len(existing):
            data[f"slots-{i}-id"] = existing[i].pk
            data[f"slots-{i}-game"] = game.pk
        if i < len(rows):
            label, face, multiplier, weight = rows[i]
            data.update(
                {
                    f"slots-{i}-position": i + 1,
                    f"slots-{i}-label": label,
                    f"slots-{i}-face": face,
                    f"slots-{i}-multiplier": multiplier,
                    f"slots-{i}-weight": weight,
                }
            )
        else:
            data.update({f"slots-{i}-{f}": v for f, v in (("position", i + 1), ("label", "x"), ("multiplier", "0"))})
            data[f"slots-{i}-weight"] = 0
            data[f"slots-{i}-DELETE"] = "on"
    return data


def test_admin_shows_the_rtp_and_the_cap(staff_client):
    game_create(slug="spin_wheel")
    page = staff_client.get("/admin/games/game/").content.decode()
    assert "95.0000%" in page
    assert "97.00%" in page


def test_admin_publishes_a_valid_table_as_a_new_version(staff_client):
    # given the wheel
    game = game_create(slug="spin_wheel")
    old_table = game.current_table
    rows = [("Nothing", "", "0", 100_000), ("Double", "", "2", 450_000), ("Zero", "", "0", 450_000)]  # RTP 0.90
    # when ops save a new table
    response = staff_client.post(f"/admin/games/game/{game.pk}/change/", change_form(game, rows))
    # then it is published and the old one kept for the rounds drawn from it
    assert response.status_code == 302, response.context["errors"] if response.context else response
    game.refresh_from_db()
    assert game.current_table != old_table
    assert game.current_table.rtp == Decimal("0.9")
    assert [s["weight"] for s in game.current_table.slots] == [100_000, 450_000, 450_000]
    assert PrizeTable.objects.filter(pk=old_table.pk).exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("a", "", "1", 500_000), ("b", "", "0", 499_999)], "must sum to exactly 1,000,000"),
        ([("a", "", "2", 500_000), ("b", "", "0", 500_000)], "over the cap"),
    ],
    ids=["probabilities-do-not-sum-to-1", "rtp-over-cap"],
)
def test_admin_refuses_an_invalid_table_and_keeps_the_old_one(staff_client, rows, message):
    game = game_create(slug="spin_wheel")
    response = staff_client.post(f"/admin/games/game/{game.pk}/change/", change_form(game, rows))
    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    game.refresh_from_db()
    assert [s.weight for s in game.slots.order_by("position")] == [w for *_, w in WHEEL]
    assert PrizeTable.objects.filter(game=game).count() == 1


def test_rtp_report_shows_realised_rtp_per_game_and_day(staff_client, auth_client, user):
    # given two rounds of a game that never pays
    game_create(slug="spin_wheel", slots=NOTHING)
    coins_give(user, 1_000)
    client = auth_client(user)
    for bet in (100, 50):
        client.post(
            "/api/v1/games/spin_wheel/play/", {"bet": bet}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
        )
    # when
    response = staff_client.get("/admin/games/gamedayreport/")
    # then
    assert response.status_code == 200
    (row,) = response.context["rows"]
    assert (row["game__slug"], row["rounds"], row["staked"], row["paid"], row["realised_rtp"]) == (
        "spin_wheel",
        2,
        150,
        0,
        0,
    )
    assert row["house_result"] == 150


def test_rtp_report_needs_the_permission(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/admin/games/gamedayreport/").status_code == 403
