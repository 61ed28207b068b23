"""The demo hooks of og and games (run by seed_demo) and the staff roles they declare."""

import pytest
from django.contrib.auth.models import Permission

from apps.games import demo as games_demo
from apps.games import roles as games_roles
from apps.games.models import Game
from apps.og import demo as og_demo
from apps.og import roles as og_roles
from apps.og.models import OgMembership, OgTier
from apps.og.selectors import user_og_badge
from apps.wallet.selectors import ledger_audit
from tests.accounts.factories import UserFactory
from tests.games.factories import coins_give


@pytest.mark.django_db
def test_demo_seeds_create_tiers_games_and_an_og_viewer_once():
    # given the demo viewer with demo coins (accounts and wallet seeds run first)
    viewer = UserFactory(username="viewer")
    coins_give(viewer, 50_000)
    # when the seeds run twice
    for _ in range(2):
        og_demo.seed(out=lambda line: None)
        games_demo.seed(out=lambda line: None)
    # then
    assert OgTier.objects.count() == 5
    assert OgMembership.objects.get().user == viewer
    assert user_og_badge(user_id=viewer.pk)["name"] == "Gold"
    assert {g.slug: str(g.current_table.rtp) for g in Game.objects.all()} == {
        "spin_wheel": "0.95000000",
        "coin_flip": "0.96000000",
    }
    assert ledger_audit() == []


@pytest.mark.django_db
@pytest.mark.parametrize("roles", [og_roles, games_roles], ids=["og", "games"])
def test_role_permissions_exist(roles):
    for perms in roles.GROUP_PERMISSIONS.values():
        for perm in perms:
            app_label, codename = perm.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), perm
