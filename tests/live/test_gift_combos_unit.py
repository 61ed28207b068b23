"""Gift combo streaks in Redis (apps.live.combos), without rooms: the scripts on the real Redis."""

import asyncio
import itertools
import secrets
from typing import Any

import pytest
import redis.asyncio as aioredis

from apps.live.combos import ComboSend, combo_sends_note, combos_due
from apps.live.events import COMBO_NOTE, _combo_notes_resolve, stream_group_name

WINDOW_MS = 400
FRAME_MS = 150
_ids = itertools.count(10**9 + secrets.randbelow(10**12))  # apart from earlier runs' keys too


@pytest.fixture(autouse=True)
def short_streaks(settings):
    settings.LIVE_GIFT_COMBO_WINDOW_MS = WINDOW_MS
    settings.LIVE_GIFT_COMBO_FRAME_MS = FRAME_MS


@pytest.fixture
def stream_id() -> int:
    return next(_ids)  # a stream of its own: no streak of another test in its keys


def send(stream_id: int, *, sender: int = 7, gift: int = 3, quantity: int = 1, coins: int = 10) -> ComboSend:
    return ComboSend(
        stream_id=stream_id,
        send_id=next(_ids),
        sender={"id": sender, "username": f"u{sender}", "display_name": f"U{sender}"},
        gift={"id": gift, "name": "Momo", "icon_url": "/m.png", "animation_url": ""},
        quantity=quantity,
        coins=coins,
    )


def run(coroutine_fn) -> Any:
    from django.conf import settings

    async def main():
        client = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
        try:
            return await coroutine_fn(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_a_streak_shows_its_first_send_holds_the_rest_back_then_shows_them_once_and_ends_once(stream_id):
    sends = [send(stream_id, quantity=2, coins=20) for _ in range(3)]

    async def scenario(client):
        # when three sends of one streak arrive together
        noted = await combo_sends_note(client, sends)
        early = await combos_due(client, stream_id=stream_id)
        await asyncio.sleep(FRAME_MS / 1000 + 0.05)
        held = await combos_due(client, stream_id=stream_id)
        again = await combos_due(client, stream_id=stream_id)
        await asyncio.sleep(WINDOW_MS / 1000 + 0.05)
        ended = await combos_due(client, stream_id=stream_id)
        after = await combos_due(client, stream_id=stream_id)
        return noted, early, held, again, ended, after

    noted, early, held, again, ended, after = run(scenario)

    # then the first send showed at once, the two others after the frame interval, and the end once
    assert [(i, p["count"], p["sends"], p["coins"], p["ended"]) for i, p in noted] == [(0, 2, 1, 20, False)]
    assert noted[0][1]["streak_id"] == sends[0].send_id
    assert early == []
    assert [(p["count"], p["sends"], p["coins"], p["ended"]) for p in held] == [(6, 3, 60, False)]
    assert again == []
    assert [(p["streak_id"], p["count"], p["coins"], p["ended"]) for p in ended] == [(sends[0].send_id, 6, 60, True)]
    assert after == []


def test_a_send_after_the_window_ends_the_old_streak_itself_when_no_room_did(stream_id):
    first, later = send(stream_id), send(stream_id)

    async def scenario(client):
        await combo_sends_note(client, [first])
        await asyncio.sleep(WINDOW_MS / 1000 + 0.05)  # no ticker ran meanwhile
        return await combo_sends_note(client, [later])

    frames = run(scenario)

    # then that send showed the old streak's end, then its own new streak
    assert [(i, p["streak_id"], p["count"], p["ended"]) for i, p in frames] == [
        (0, first.send_id, 1, True),
        (0, later.send_id, 1, False),
    ]


def test_sends_from_several_processes_at_once_lose_nothing(stream_id):
    # given four "processes" (clients of their own) each counting fifty sends of one streak and one of another
    async def scenario(client):
        from django.conf import settings

        async def process() -> list[tuple[int, dict]]:
            own = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
            shown = []
            try:
                for _ in range(50):
                    shown += await combo_sends_note(own, [send(stream_id), send(stream_id, sender=8)])
            finally:
                await own.aclose()
            return shown

        shown = [frame for frames in await asyncio.gather(*(process() for _ in range(4))) for _, frame in frames]
        await asyncio.sleep(WINDOW_MS / 1000 + 0.05)
        return shown, await combos_due(client, stream_id=stream_id)

    shown, ended = run(scenario)

    # then each streak ended with all two hundred sends, and no frame ever counted one twice
    assert sorted((p["sender"]["id"], p["count"], p["coins"]) for p in ended) == [(7, 200, 2000), (8, 200, 2000)]
    for sender in (7, 8):
        counts = [p["count"] for p in shown if p["sender"]["id"] == sender]
        assert len(counts) == len(set(counts)) and max(counts) <= 200
        assert len({p["streak_id"] for p in shown + ended if p["sender"]["id"] == sender}) == 1


def test_when_redis_is_down_each_send_is_announced_as_its_own_gift_sent(stream_id, settings):
    # given a Redis that does not answer (the channel layer is not involved here)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    one, two = send(stream_id), send(stream_id, sender=8)
    group = stream_group_name(stream_id)
    other = {"type": "room.event", "event": {"type": "chat.message", "payload": {}}}
    batch = [(group, {"type": COMBO_NOTE, "send": one}), (group, other), (group, {"type": COMBO_NOTE, "send": two})]

    # when the layer sender resolves a batch with two sends in it
    resolved = asyncio.run(_combo_notes_resolve(batch))

    # then the room still hears both gifts, in their places
    assert resolved == [
        (group, {"type": "room.event", "event": {"type": "gift.sent", "payload": one.sent_payload()}}),
        (group, other),
        (group, {"type": "room.event", "event": {"type": "gift.sent", "payload": two.sent_payload()}}),
    ]
