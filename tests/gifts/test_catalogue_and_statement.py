import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.gifts.demo import DEMO_GIFTS
from apps.gifts.models import Gift, GiftSend
from apps.gifts.services import gift_send
from apps.live.models import Stream
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db


def test_catalogue_lists_active_gifts_in_order_and_is_cached(api_client, django_assert_num_queries):
    # given two active gifts and a retired one
    second = GiftFactory(name="Heart", coin_price=5, order=2)
    first = GiftFactory(name="Rose", coin_price=1, order=1)
    GiftFactory(name="Old", is_active=False)

    # when anyone reads the catalogue (twice)
    with django_assert_num_queries(1):
        body = api_client.get("/api/v1/gifts/").json()
    with django_assert_num_queries(0):
        assert api_client.get("/api/v1/gifts/").json() == body

    # then they see the active gifts in tray order, with everything the app draws
    assert [g["id"] for g in body] == [first.pk, second.pk]
    assert set(body[0]) == {"id", "name", "coin_price", "icon_url", "animation_url", "category", "og_only", "order"}


def test_admin_edit_clears_the_cached_catalogue(admin_client, api_client):
    rose = GiftFactory(name="Rose")
    assert len(api_client.get("/api/v1/gifts/").json()) == 1
    response = admin_client.post(
        f"/admin/gifts/gift/{rose.pk}/change/",
        {
            "name": "Rose",
            "coin_price": 1,
            "icon_url": rose.icon_url,
            "animation_url": "",
            "category": "classic",
            "order": 1,
        },  # is_active unticked
    )
    assert response.status_code == 302
    assert api_client.get("/api/v1/gifts/").json() == []


def test_seed_demo_gifts_is_idempotent():
    from apps.gifts.demo import catalogue_seed

    catalogue_seed(out=lambda _: None)
    catalogue_seed(out=lambda _: None)
    assert Gift.objects.count() == len(DEMO_GIFTS) >= 20
    assert Gift.objects.filter(og_only=True).exists()
    assert {"Rose", "Momo", "Dhaka Topi", "One-horned Rhino", "Everest"} <= set(
        Gift.objects.values_list("name", flat=True)
    )


def _statement(client, **params) -> list[list[str]]:
    response = client.get("/api/v1/gifts/statement.csv", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_host_statement_lists_every_gift_received_with_the_split(auth_client, settings):
    # given a host who received two sends, and a gift to another host
    settings.GIFT_HOST_SHARE_PERCENT = 60
    stream = LiveStreamFactory()
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    fund(alice, 1_000)
    fund(bob, 1_000)
    momo = GiftFactory(name="Momo", coin_price=20)
    gift_send(sender_id=alice.pk, stream_id=stream.pk, gift_id=momo.pk, quantity=3)
    gift_send(sender_id=bob.pk, stream_id=stream.pk, gift_id=momo.pk, quantity=1)
    gift_send(sender_id=alice.pk, stream_id=LiveStreamFactory().pk, gift_id=momo.pk, quantity=5)

    # when the host downloads their statement
    rows = _statement(auth_client(stream.host))

    # then it has a header and exactly their two gifts, oldest first, adding up to their earnings
    assert rows[0] == ["time", "sender", "gift", "quantity", "coins", "host_share", "platform_share", "rate_percent"]
    assert [r[1:] for r in rows[1:]] == [
        ["alice", "Momo", "3", "60", "36", "24", "60"],
        ["bob", "Momo", "1", "20", "12", "8", "60"],
    ]
    assert sum(int(r[5]) for r in rows[1:]) == 48


def test_statement_filters_by_local_dates(auth_client):
    stream = LiveStreamFactory()
    sender = UserFactory()
    fund(sender, 1_000)
    gift = GiftFactory(coin_price=10)
    old = gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1).send
    GiftSend.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=2)
    today = timezone.localdate()

    client = auth_client(stream.host)
    assert len(_statement(client, **{"from": str(today), "to": str(today)})) == 2
    assert len(_statement(client, **{"from": str(today - timedelta(days=10)), "to": str(today)})) == 3
    assert len(_statement(client, **{"to": str(today - timedelta(days=11))})) == 1  # header only


def test_statement_bad_dates_and_sign_in(api_client, auth_client, user):
    response = auth_client(user).get("/api/v1/gifts/statement.csv", {"from": "2026-02-01", "to": "2026-01-01"})
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert auth_client(user).get("/api/v1/gifts/statement.csv", {"from": "yesterday"}).status_code == 400
    assert api_client.get("/api/v1/gifts/statement.csv").status_code == 401


def test_stream_gift_totals_are_copied_to_the_stream(stream, gift):
    from apps.gifts.services import stream_gift_totals_refresh

    sender = UserFactory()
    fund(sender, 1_000)
    gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=2)
    gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=3)

    assert stream_gift_totals_refresh() == 1
    assert stream_gift_totals_refresh() == 0  # nothing changed: nothing written
    stream = Stream.objects.get(pk=stream.pk)
    assert (stream.gift_coins_total, stream.gifts_count) == (100, 5)


def test_seed_demo_leaves_a_viewer_able_to_gift_a_host():
    call_command("seed_demo", stdout=io.StringIO())
    from apps.accounts.models import User
    from apps.wallet.selectors import coins_balance

    viewer = User.objects.get(username="viewer")
    assert coins_balance(user_id=viewer.pk) > 0
    assert Gift.objects.filter(is_active=True, og_only=False, coin_price__lte=coins_balance(user_id=viewer.pk))
