"""Readable chat in busy rooms: a real daphne, the Redis pub/sub layer and PostgreSQL.

The daphne of these tests samples above 5 chat messages a second and shows a viewer at most 4 a
second (of which 2 for anyone, 3 for gifters and OG members, 4 for the host and moderators).
"""

import asyncio
import time

import pytest

from apps.gifts.services import gift_send
from apps.moderation.models import BannedWord
from apps.og.services import og_buy
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory
from tests.live.factories import LiveStreamFactory
from tests.live.test_rooms import join
from tests.live.wsclient import Room, in_thread, run_scenario
from tests.og.factories import OgTierFactory, coins_give
from tests.wallet.factories import fund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

THRESHOLD, PER_SECOND = 5, 4
SAMPLED_ENV = {
    "LIVE_CHAT_SAMPLING_THRESHOLD": str(THRESHOLD),
    "LIVE_CHAT_SAMPLING_PER_SECOND": str(PER_SECOND),
    "LIVE_CHAT_RATE_COUNT": "10000",  # the chatters flood on purpose
}


@pytest.fixture
def sampled_daphne(start_daphne):
    return start_daphne(**SAMPLED_ENV)


class Collector:
    """Reads a socket in the background: every frame with the time it arrived."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.frames: list[tuple[float, dict]] = []
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            event = await self.room.receive()
            self.frames.append((time.monotonic(), event))

    def chats(self) -> list[dict]:
        return self.of_type("chat.message")

    def of_type(self, event_type: str) -> list[dict]:
        return [e["payload"] for _, e in self.frames if e["type"] == event_type]

    async def until(self, check, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not check(self):
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.room.close()


async def flood(chatters: list[Room], *, rate: float, seconds: float, label: str = "flood") -> int:
    """`rate` messages a second from the chatters in turn; returns how many were sent."""
    sent, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        await chatters[sent % len(chatters)].send("chat.send", {"text": f"{label} {sent}"})
        sent += 1
        await asyncio.sleep(max(0.0, sent / rate - (time.perf_counter() - t0)))
    return sent


def assert_every_flood_message_once_in_each_authors_order(texts: list[str], sent: int, authors: int) -> None:
    """Each author's messages arrive in the order sent; authors on different sockets may interleave."""
    numbers = [int(t.split()[1]) for t in texts if t.startswith("flood ")]
    assert sorted(numbers) == list(range(sent))
    for author in range(authors):
        theirs = [n for n in numbers if n % authors == author]
        assert theirs == sorted(theirs)


def test_below_the_threshold_every_viewer_sees_every_message(sampled_daphne):
    # given a host, a viewer and two chatters in a room sampled above 5 chats/s
    stream = LiveStreamFactory()
    viewer, *chatter_users = (UserFactory() for _ in range(3))

    async def scenario():
        h = await join(sampled_daphne, stream, stream.host)
        v = await join(sampled_daphne, stream, viewer)
        assert v.welcome["chat_sampling"] == {
            "active": False,
            "rate": 0,
            "threshold": THRESHOLD,
            "max_per_second": PER_SECOND,
            "shown_per_second": PER_SECOND,
        }
        chatters = [await join(sampled_daphne, stream, u) for u in chatter_users]
        host_seen, viewer_seen = Collector(h), Collector(v)

        # when they chat at 3 messages a second for three seconds
        sent = await flood(chatters, rate=3, seconds=3)

        # then the viewer and the host see every one, and nobody hears of sampling
        await viewer_seen.until(lambda c: len(c.chats()) == sent)
        await host_seen.until(lambda c: len(c.chats()) == sent)
        assert [m["text"] for m in viewer_seen.chats()] == [f"flood {i}" for i in range(sent)]
        assert viewer_seen.of_type("chat.sampling") == host_seen.of_type("chat.sampling") == []
        for c in (host_seen, viewer_seen):
            await c.stop()
        for room in chatters:
            await room.close()

    run_scenario(scenario)


def test_above_the_threshold_a_viewer_sees_a_sample_and_the_host_staff_and_author_see_everything(sampled_daphne):
    # given a host, a viewer, a staff member watching, a late joiner, and four chatters; "badword" is banned
    BannedWord.objects.create(term="badword")
    stream = LiveStreamFactory()
    viewer, late, *chatter_users = (UserFactory() for _ in range(6))
    staff = UserFactory(is_staff=True)

    async def scenario():
        h = await join(sampled_daphne, stream, stream.host)
        v = await join(sampled_daphne, stream, viewer)
        s = await join(sampled_daphne, stream, staff)
        chatters = [await join(sampled_daphne, stream, u) for u in chatter_users]
        host_seen, viewer_seen, staff_seen = Collector(h), Collector(v), Collector(s)
        author_seen = Collector(chatters[0])

        # when the chatters send 30 messages a second for three seconds, and one of them a banned word
        async def rude() -> None:
            await asyncio.sleep(1.5)
            await chatters[3].send("chat.send", {"text": "what a badword"})

        t0 = time.monotonic()
        sent, _ = await asyncio.gather(flood(chatters, rate=30, seconds=3), rude())
        send_seconds = time.monotonic() - t0

        # then the host and the staff member get every message, filtered
        for seen in (host_seen, staff_seen):
            await seen.until(lambda c: len(c.chats()) == sent + 1, timeout=15)
            texts = [m["text"] for m in seen.chats()]
            assert_every_flood_message_once_in_each_authors_order(texts, sent, len(chatters))
            assert "what a *******" in texts
        await asyncio.sleep(0.5)  # the viewer's frames of the same rounds are written by now

        # and everyone was told that sampling started, with the rate, just before the message that crossed the line
        for seen in (host_seen, viewer_seen, staff_seen):
            (started,) = seen.of_type("chat.sampling")
            assert started["active"] is True and started["rate"] > THRESHOLD
            assert started["threshold"] == THRESHOLD and started["max_per_second"] == PER_SECOND
        types = [e["type"] for _, e in viewer_seen.frames if e["type"] in ("chat.message", "chat.sampling")]
        assert types.index("chat.sampling") == THRESHOLD

        # and the viewer saw the first messages, then at most 2 a second of the flood (ordinary authors)
        shown = viewer_seen.chats()
        assert sorted(m["text"] for m in shown[:THRESHOLD]) == [f"flood {i}" for i in range(THRESHOLD)]
        assert len(shown) - THRESHOLD <= 2 * (send_seconds + 2)
        assert len(shown) < sent / 3

        # and a chatter sees the sample plus all of their own messages
        mine = [m for m in author_seen.chats() if m["user"]["id"] == chatter_users[0].pk]
        assert len(mine) == len(range(0, sent, len(chatters)))

        # and every message was stored: the recent history holds the last ones, sampled or not
        newcomer = await join(sampled_daphne, stream, late)
        history = [m["text"] for m in newcomer.welcome["history"]]
        assert sorted(history[-5:]) == sorted(f"flood {i}" for i in range(sent - 5, sent))
        assert newcomer.welcome["chat_sampling"]["active"] is True

        # and once the chat is quiet for a few seconds, sampling stops and everyone is told
        await viewer_seen.until(lambda c: len(c.of_type("chat.sampling")) == 2, timeout=10)
        assert viewer_seen.of_type("chat.sampling")[-1]["active"] is False
        await chatters[1].send("chat.send", {"text": "calm again"})
        await viewer_seen.until(lambda c: c.chats()[-1]["text"] == "calm again")

        for c in (host_seen, viewer_seen, staff_seen, author_seen):
            await c.stop()
        for room in (*chatters[1:], newcomer):
            await room.close()

    run_scenario(scenario)


def test_in_a_flood_the_host_gifters_and_og_members_are_shown(sampled_daphne):
    # given a room with a viewer, four ordinary chatters, a gifter and an OG member
    stream = LiveStreamFactory()
    viewer, gifter, og_member, *chatter_users = (UserFactory() for _ in range(7))
    gift = GiftFactory(coin_price=10)
    fund(gifter, 100)
    tier = OgTierFactory()
    coins_give(og_member, tier.price_coins)
    og_buy(user=og_member, tier_id=tier.pk)

    async def scenario():
        h = await join(sampled_daphne, stream, stream.host)
        v = await join(sampled_daphne, stream, viewer)
        g = await join(sampled_daphne, stream, gifter)
        o = await join(sampled_daphne, stream, og_member)
        chatters = [await join(sampled_daphne, stream, u) for u in chatter_users]
        await in_thread(gift_send, sender_id=gifter.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1)
        await g.next("gift.combo")  # a small gift: its streak
        viewer_seen = Collector(v)

        # when ordinary chat floods at 40 a second for four seconds, and the gifter, the OG member and
        # the host each say something, more than a second apart
        async def priority():
            await asyncio.sleep(0.6)
            for room, text in ((g, "from the gifter"), (o, "from the OG member"), (h, "from the host")):
                await room.send("chat.send", {"text": text})
                await asyncio.sleep(1.2)

        sent, _ = await asyncio.gather(flood(chatters, rate=40, seconds=4), priority())

        # then the viewer, shown a small sample of the flood, saw all three
        await viewer_seen.until(lambda c: "from the host" in [m["text"] for m in c.chats()])
        await asyncio.sleep(0.5)
        texts = [m["text"] for m in viewer_seen.chats()]
        assert {"from the gifter", "from the OG member", "from the host"} <= set(texts)
        assert len([t for t in texts if t.startswith("flood")]) < sent / 4
        await viewer_seen.stop()
        for room in (h, g, o, *chatters):
            await room.close()

    run_scenario(scenario)
