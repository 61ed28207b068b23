"""Requests while Redis is unreachable (the fault suite's Redis outage) or PostgreSQL cannot serve them:
refused cleanly with a 503 in the one error shape, with nothing written, so the app retries later with
the same Idempotency-Key."""

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from apps.gifts.models import GiftSend
from apps.wallet.models import Account
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


@pytest.mark.django_db(transaction=True)
def test_a_gift_send_that_the_database_cannot_serve_in_time_is_refused_with_a_503_and_writes_nothing(auth_client):
    if connection.vendor != "postgresql":
        pytest.skip("lock timeouts are PostgreSQL's")
    # given a funded sender signed in, whose coins another session holds locked past the request's
    # lock timeout (as a stuck transaction, a failover or a terminated session would leave it)
    sender, stream, gift = UserFactory(), LiveStreamFactory(), GiftFactory(coin_price=10)
    fund(sender, 100)
    client = auth_client(sender)
    coins = Account.objects.get(owner=sender, kind=Account.Kind.USER_COINS)
    with psycopg.connect(**connection.get_connection_params()) as other:
        lock = sql.SQL("SELECT 1 FROM {} WHERE id = %s FOR UPDATE").format(sql.Identifier(Account._meta.db_table))
        other.execute(lock, [coins.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            # when the sender sends a gift
            response = client.post(
                "/api/v1/gifts/send/", {"stream": stream.pk, "gift": gift.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
            )
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        other.rollback()

    # then it is refused as briefly unavailable (it was a 500 server error), and nothing moved
    assert response.status_code == 503, response.json()
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"] == "5"
    assert GiftSend.objects.count() == 0
    assert coins_balance(user_id=sender.pk) == 100
