"""A stream's gift totals in the API are current after each send, without a beat task."""

import pytest

from apps.gifts.services import gift_send
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory

pytestmark = pytest.mark.django_db


def test_the_stream_api_shows_gift_totals_as_soon_as_a_send_commits(sender, stream, gift, auth_client):
    # given a live stream nobody gifted yet
    viewer = UserFactory()
    detail = f"/api/v1/streams/{stream.pk}/"
    assert auth_client(viewer).get(detail).json()["gift_coins_total"] == 0

    # when two sends commit (3 x 20 coins, then 1 x 50)
    gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=3)
    rose = GiftFactory(name="Rose", coin_price=50)
    gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=rose.pk, quantity=1)

    # then the stream's figures say so at once (no stream_gift_totals_refresh has run)
    body = auth_client(viewer).get(detail).json()
    assert (body["gift_coins_total"], body["gifts_count"]) == (110, 4)
    # and the host's end-of-stream answer carries them too
    ended = auth_client(stream.host).post(f"{detail}end/").json()
    assert (ended["gift_coins_total"], ended["gifts_count"]) == (110, 4)
