"""Room defects found by an outside probe, each against a real daphne, the Redis layer and PostgreSQL."""

import contextlib
import json
import time

import pytest
import redis
from django.conf import settings
from websockets.exceptions import ConnectionClosed

from apps.accounts.services import block_create
from apps.core.redis_keys import deployment_key
from apps.live.models import Stream
from tests.live.test_rooms import join, live, token  # noqa: F401  (the `live` fixture)
from tests.live.wsclient import in_thread, run_scenario

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DEVANAGARI = "नमस्ते"  # 6 characters, 18 UTF-8 bytes


def test_the_frame_limit_counts_utf8_bytes_not_characters(daphne_server, live):  # noqa: F811
    stream, host, (v1, _, _) = live
    # 3,346 Devanagari characters: under 8,192 characters, but 10,038 UTF-8 bytes with the envelope
    text = DEVANAGARI * 557 + "नमस्"
    too_big = json.dumps({"type": "chat.send", "payload": {"text": text}}, ensure_ascii=False)
    assert len(too_big) < 8192 < len(too_big.encode())
    # and a frame of many Devanagari characters that stays within 8 KiB passes the size check
    fits = json.dumps({"type": "chat.send", "payload": {"text": DEVANAGARI * 51}}, ensure_ascii=False)
    assert len(fits.encode()) < 8192

    async def scenario():
        a = await join(daphne_server, stream, v1)
        await a.send_raw(too_big)
        error = (await a.next("error"))["payload"]
        assert error["code"] == "invalid_event" and error["details"] == {"max_bytes": 8192}, error
        await a.send_raw(fits)
        error = (await a.next("error"))["payload"]  # 306 characters: refused for its length, not its size
        assert "max_bytes" not in error["details"] and "text" in error["details"], error
        await a.close()

    run_scenario(scenario)


def test_chat_rate_limited_says_the_seconds_left_in_the_window(daphne_server, live):  # noqa: F811
    stream, host, (v1, _, _) = live
    window = settings.LIVE_CHAT_RATE_SECONDS

    async def scenario():
        a = await join(daphne_server, stream, v1)
        started = time.monotonic()
        for i in range(settings.LIVE_CHAT_RATE_COUNT):
            await a.send("chat.send", {"text": f"m{i}"})
            await a.next("chat.message")
        await a.drain(2.5)
        await a.send("chat.send", {"text": "one too many"})
        limited = (await a.next("error"))["payload"]
        elapsed = time.monotonic() - started
        assert limited["code"] == "chat_rate_limited"
        left = limited["details"]["retry_after"]
        assert 0 < left <= window - elapsed + 0.5, (left, elapsed)
        await a.close()

    run_scenario(scenario)


def test_a_hosts_block_closes_the_viewers_open_socket_and_refuses_their_chat_at_once(daphne_server, live):  # noqa: F811
    stream, host, (v1, v2, _) = live

    async def scenario():
        h = await join(daphne_server, stream, host)
        a = await join(daphne_server, stream, v1)
        b = await join(daphne_server, stream, v2)
        # when the host blocks v1 (from the app's block endpoint, i.e. the accounts service)
        await in_thread(block_create, blocker=host, blocked=v1)
        # then a message v1 sends right away is refused, never broadcast (unless the socket is already closed)
        with contextlib.suppress(ConnectionClosed):
            await a.send("chat.send", {"text": "after the block"})
        # and v1's socket is told why and closes with 4003, as a refused connect would
        closed = await a.next("session.closed")
        assert closed["payload"] == {"reason": "user_blocked", "stream_id": stream.pk}
        assert await a.close_code() == 4003
        await h.send("chat.send", {"text": "sentinel"})
        await b.until("chat.message", lambda p: p["text"] == "sentinel")
        assert not [e for e in b.seen if e["type"] == "chat.message" and e["payload"]["user"]["id"] == v1.pk]
        # and the other viewer stays
        await b.send("chat.send", {"text": "still here"})
        await h.until("chat.message", lambda p: p["text"] == "still here")
        for room in (h, b):
            await room.close()

    run_scenario(scenario)


def test_a_viewers_block_of_the_host_closes_their_socket_too(daphne_server, live):  # noqa: F811
    stream, host, (v1, _, _) = live

    async def scenario():
        a = await join(daphne_server, stream, v1)
        await in_thread(block_create, blocker=v1, blocked=host)
        assert (await a.next("session.closed"))["payload"]["reason"] == "user_blocked"
        assert await a.close_code() == 4003

    run_scenario(scenario)


def test_a_rejoining_host_is_told_the_count_when_it_differs_from_their_welcome(
    daphne_server,
    start_daphne,
    live,  # noqa: F811
):
    # Viewer counts are broadcast every 4 s; presence is refreshed every 2 s and expires after 5 s.
    stream, host, (v1, v2, _) = live
    server = start_daphne(
        LIVE_VIEWERS_BROADCAST_SECONDS="4", LIVE_PRESENCE_REFRESH_SECONDS="2", LIVE_PRESENCE_TTL_SECONDS="5"
    )
    presence = deployment_key(f"live:{stream.pk}:presence")
    client = redis.Redis.from_url(settings.REDIS_URL)

    async def scenario():
        h = await join(server, stream, host)
        await join(server, stream, v1)
        await join(server, stream, v2)
        await h.until("viewers.updated", lambda p: p["count"] == 2, timeout=10)
        await h.close()
        # when the viewers' entries went stale (their process was too busy to refresh them in time)
        # just as the host came back: the host's welcome counts no one
        client.zadd(presence, {str(v1.pk): 1.0, str(v2.pk): 1.0})
        again = await join(server, stream, host)
        assert again.welcome["viewers"] == 0
        # then, once the viewers' process refreshes them, the host is told 2 (the room never changed)
        await again.until("viewers.updated", lambda p: p["count"] == 2, timeout=10)
        await again.close()

    try:
        run_scenario(scenario)
    finally:
        client.close()
    assert Stream.objects.get(pk=stream.pk).current_viewers == 2
