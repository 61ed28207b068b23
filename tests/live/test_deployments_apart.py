"""Two deployments on one Redis server (its pub/sub ignores the database number) stay apart: room
events, kicks, leaderboards and cache keys of one are not seen by the other (REDIS_KEY_PREFIX)."""

import asyncio
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.test import override_settings

from apps.core.cache import ReusingRedisCache
from apps.gifts import leaderboards
from apps.gifts.leaderboards import Board, Period, SendFigures
from apps.live.events import room_event_publish, user_sockets_close
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory
from tests.live.test_rooms import join
from tests.live.wsclient import in_thread, run_scenario

OTHER = "other-deployment"


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_room_events_and_kicks_of_one_deployment_do_not_reach_the_other(daphne_server, start_daphne):
    # given one stream with a viewer on this deployment's daphne and one on another deployment's
    # daphne (same Redis server and database number, another DEPLOYMENT_NAME)
    other = start_daphne(DEPLOYMENT_NAME=OTHER, REDIS_KEY_PREFIX=f"{OTHER}:")
    stream = LiveStreamFactory()
    here_viewer, other_viewer = UserFactory(), UserFactory()
    warning = {"stream_id": stream.pk, "user_id": here_viewer.pk, "message": "Keep it clean"}

    async def scenario():
        here = await join(daphne_server, stream, here_viewer)
        there = await join(other, stream, other_viewer)

        # when this deployment publishes a room event and kicks the other viewer
        await in_thread(room_event_publish, stream_id=stream.pk, event_type="moderation.warning", payload=warning)
        await in_thread(user_sockets_close, user_id=other_viewer.pk, reason="kicked", stream_id=stream.pk)

        # then its own room hears the event (so it was sent) ...
        assert (await here.next("moderation.warning"))["payload"]["message"] == "Keep it clean"
        # ... while the other deployment's socket neither hears it nor closes: its next frame of
        # these kinds is its own chat message
        await asyncio.sleep(1)
        await there.send("chat.send", {"text": "still here"})
        frame = await there.next("chat.message", "moderation.warning", "session.closed")
        assert frame["type"] == "chat.message" and frame["payload"]["text"] == "still here"
        # and that chat, sent on the other deployment, does not reach this one
        await asyncio.sleep(0.5)
        await here.send("chat.send", {"text": "mine"})
        assert (await here.next("chat.message"))["payload"]["text"] == "mine"
        await here.close()
        await there.close()

    run_scenario(scenario)


def _send(sender_id: int) -> SendFigures:
    return SendFigures(
        sender_id=sender_id,
        host_id=sender_id + 1,
        stream_id=sender_id + 2,
        coins=50,
        host_share=25,
        created_at=datetime.now(UTC),
    )


@pytest.mark.skipif(not settings.REDIS_URL, reason="Redis leaderboards need REDIS_URL")
def test_a_leaderboard_write_of_one_deployment_is_not_on_the_others_board():
    now = datetime.now(UTC)
    sender_id = 987_654_321

    def top() -> list[tuple[int, int]]:
        return leaderboards.redis_top(Board.GIFTERS, Period.ALL, now=now, stream_id=None, limit=1000)

    # when the other deployment counts a send on its boards
    with override_settings(REDIS_KEY_PREFIX=f"{OTHER}:"):
        leaderboards.redis_record([_send(sender_id)])
        assert (sender_id, 50) in top()
        written = [leaderboards.redis_key(Board.GIFTERS, Period.ALL, now)]

    # then this deployment's board does not have it
    try:
        assert sender_id not in dict(top())
    finally:
        client = leaderboards._client()
        for key in client.scan_iter(match=f"{OTHER}:*"):
            client.delete(key)
    assert written[0].startswith(f"{OTHER}:")


@pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis cache needs REDIS_URL")
def test_the_cache_of_one_deployment_is_not_read_or_cleared_by_the_other():
    here = ReusingRedisCache(settings.REDIS_URL, {"KEY_PREFIX": f"{settings.REDIS_KEY_PREFIX}cache"})
    there = ReusingRedisCache(settings.REDIS_URL, {"KEY_PREFIX": f"{OTHER}:cache"})
    here.set("apart:probe", "here", timeout=60)

    assert there.get("apart:probe") is None
    there.clear()

    assert here.get("apart:probe") == "here"
    here.delete("apart:probe")
