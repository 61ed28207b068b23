"""Requests while Redis is unreachable (the fault suite's Redis outage): refused cleanly with a 503 in
the one error shape, with nothing written, so the app retries later with the same Idempotency-Key."""

import pytest

from apps.gifts.models import GiftSend
from apps.wallet.selectors import coins_balance
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.live.servers import free_port
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db


def test_a_gift_send_while_redis_is_unreachable_is_refused_with_a_503_and_writes_nothing(auth_client, settings):
    # given a funded sender signed in, then Redis goes away
    sender, stream, gift = UserFactory(), LiveStreamFactory(), GiftFactory(coin_price=10)
    fund(sender, 100)
    client = auth_client(sender)
    settings.CACHES = {
        "default": {"BACKEND": "apps.core.cache.ReusingRedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}
    }

    # when the sender sends a gift
    response = client.post(
        "/api/v1/gifts/send/", {"stream": stream.pk, "gift": gift.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    # then it is refused as briefly unavailable, in the one error shape, and nothing moved
    assert response.status_code == 503
    assert response.json() == {
        "code": "service_unavailable",
        "message": "The service is briefly unavailable; try again shortly.",
        "details": {},
    }
    assert response["Retry-After"] == "5"
    assert GiftSend.objects.count() == 0
    assert coins_balance(user_id=sender.pk) == 100
