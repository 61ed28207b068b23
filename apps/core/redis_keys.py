"""Keys the project writes to Redis itself (leaderboards, room state, reel counters): every one
starts with this deployment's REDIS_KEY_PREFIX, so that deployments sharing a Redis server (staging
beside production, two test runs) never read or write each other's. The cache, the channel layer and
Celery get the same prefix from settings."""

from django.conf import settings


def deployment_key(key: str) -> str:
    """`key` as this deployment stores it in Redis."""
    return f"{settings.REDIS_KEY_PREFIX}{key}"
