import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_readyz_reports_a_dead_redis(client):
    dead = "redis://127.0.0.1:1/0"
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}},
        CHANNEL_LAYERS={
            "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [dead]}}
        },
    ):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["failed"]) == {"cache", "channel_layer"}


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_a_dead_database(client):
    # given the database stops answering (the default connection points at a closed port)
    from django.db import connections

    conn = connections["default"]
    conn.close()
    saved_port = conn.settings_dict["PORT"]
    conn.settings_dict["PORT"] = "1"
    try:
        # when the probe asks
        response = client.get("/readyz")
    finally:
        conn.close()
        conn.settings_dict["PORT"] = saved_port

    # then it is 503 naming the database, while the process itself is still up
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["failed"]) == {"database"}
    assert "OperationalError" in body["failed"]["database"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200  # and it recovers with the database
