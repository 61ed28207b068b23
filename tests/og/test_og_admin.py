"""Ops edit OG tiers in the admin; membership and purchase records are evidence (read-only)."""

import pytest

from apps.og.models import OgTier
from tests.accounts.factories import UserFactory
from tests.og.factories import OgTierFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def tier_form(tier: OgTier, **changes) -> dict:
    data = {
        f: getattr(tier, f)
        for f in ("level", "name", "price_coins", "duration_days", "daily_bonus_coins", "badge", "entrance_effect")
    }
    data.update({"chat_color": tier.chat_color, "is_active": "on"})
    return {**data, **changes}


def test_ops_change_a_tier_price(staff_client):
    tier = OgTierFactory(level=1, price_coins=1_000)
    response = staff_client.post(f"/admin/og/ogtier/{tier.pk}/change/", tier_form(tier, price_coins=1_500))
    assert response.status_code == 302
    tier.refresh_from_db()
    assert tier.price_coins == 1_500


@pytest.mark.parametrize(("field", "value"), [("chat_color", "gold"), ("price_coins", 0), ("duration_days", 0)])
def test_bad_tier_values_are_refused(staff_client, field, value):
    tier = OgTierFactory(level=1, price_coins=1_000)
    response = staff_client.post(f"/admin/og/ogtier/{tier.pk}/change/", tier_form(tier, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    tier.refresh_from_db()
    assert (tier.price_coins, tier.chat_color, tier.duration_days) == (1_000, "#FFB400", 30)


def test_tiers_cannot_be_deleted_and_memberships_are_read_only(staff_client):
    tier = OgTierFactory(level=1)
    assert staff_client.get(f"/admin/og/ogtier/{tier.pk}/delete/").status_code == 403
    assert staff_client.get("/admin/og/ogmembership/add/").status_code == 403
    assert staff_client.get("/admin/og/ogpurchase/add/").status_code == 403
