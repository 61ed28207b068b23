"""Gift combos in real rooms: daphne processes, the Redis pub/sub layer and PostgreSQL.

The sends go through the gift service in this process (as a web worker sends them); the rooms'
tickers run in the daphne processes. The window and frame interval are this process's settings: a
streak keeps the ones it started with, so the rooms follow them.
"""

import asyncio
import time
from typing import Any

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from apps.gifts.models import GiftSend
from apps.gifts.services import gift_send
from apps.wallet.models import JournalEntry
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory
from tests.live.factories import LiveStreamFactory
from tests.live.wsclient import Room, in_thread, run_scenario
from tests.wallet.factories import fund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WINDOW_MS = 1000
FRAME_MS = 300


@pytest.fixture(autouse=True)
def combo_settings(settings):
    settings.LIVE_GIFT_COMBOS = True
    settings.LIVE_GIFT_COMBO_WINDOW_MS = WINDOW_MS
    settings.LIVE_GIFT_COMBO_FRAME_MS = FRAME_MS
    settings.LIVE_GIFT_LARGE_COINS = 1000
    return settings


async def join(server, stream, user) -> Room:
    room = await Room.open(server.ws, stream.pk, str(AccessToken.for_user(user)))
    welcome = await room.next()
    assert welcome["type"] == "room.welcome", welcome
    return room


def sends(sender, stream, gift, times: int, quantity: int = 1) -> float:
    """`times` sends as fast as the service takes them; returns how long they took (seconds)."""
    started = time.monotonic()
    for _ in range(times):
        gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=quantity)
    return time.monotonic() - started


async def until_ended(room: Room, streaks: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every gift frame until `streaks` streaks have ended (frames of other types are skipped)."""
    async with asyncio.timeout(timeout):
        while sum(1 for e in room.seen if e["type"] == "gift.combo" and e["payload"]["ended"]) < streaks:
            await room.next("gift.combo")
    return [e for e in room.seen if e["type"] in ("gift.combo", "gift.sent")]


def by_streak(frames: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    streaks: dict[int, list[dict[str, Any]]] = {}
    for frame in frames:
        if frame["type"] == "gift.combo":
            streaks.setdefault(frame["payload"]["streak_id"], []).append(frame["payload"])
    return streaks


def test_thirty_quick_sends_are_one_streak_of_a_few_frames_and_thirty_ledger_entries(daphne_server):
    # given a viewer in a live room and a sender with coins for thirty Momos
    stream, viewer, sender = LiveStreamFactory(), UserFactory(), UserFactory()
    momo = GiftFactory(name="Momo", coin_price=20)
    fund(sender, 600)

    async def scenario():
        room = await join(daphne_server, stream, viewer)
        # when the sender taps thirty times in a row
        took = await in_thread(sends, sender, stream, momo, 30)
        frames = await until_ended(room, streaks=1)
        await room.close()
        return took, frames

    took, frames = run_scenario(scenario)

    # then the room saw one streak: a few frames, counts never going down, the last one ended with all thirty
    assert [f["type"] for f in frames] == ["gift.combo"] * len(frames)
    (streak_id, streak), *others = by_streak(frames).items()
    assert not others
    first_send = GiftSend.objects.filter(stream=stream).order_by("pk").first()
    assert streak_id == first_send.pk
    counts = [p["count"] for p in streak]
    assert counts == sorted(counts) and counts[0] >= 1
    assert [p["ended"] for p in streak] == [False] * (len(streak) - 1) + [True]
    last = streak[-1]
    assert (last["count"], last["sends"], last["coins"]) == (30, 30, 600)
    assert last["sender"]["id"] == sender.pk and last["gift"] == {
        "id": momo.pk,
        "name": "Momo",
        "icon_url": momo.icon_url,
        "animation_url": momo.animation_url,
    }
    # at most one frame per interval while the sends lasted, the one held back, and the end
    assert len(streak) <= int(took * 1000 / FRAME_MS) + 3
    assert len(streak) < 30
    # and every send is its own gift record and ledger entry
    assert GiftSend.objects.filter(stream=stream, sender=sender).count() == 30
    assert JournalEntry.objects.filter(kind="gift", created_by=sender).count() == 30


def test_a_pause_longer_than_the_window_starts_a_new_streak(daphne_server):
    # given a viewer in a live room and a sender with coins
    stream, viewer, sender = LiveStreamFactory(), UserFactory(), UserFactory()
    rose = GiftFactory(coin_price=5)
    fund(sender, 100)

    async def scenario():
        room = await join(daphne_server, stream, viewer)
        # when the sender taps three times, waits longer than the window, then taps twice
        await in_thread(sends, sender, stream, rose, 3)
        await asyncio.sleep(WINDOW_MS / 1000 + 0.3)
        await in_thread(sends, sender, stream, rose, 2, quantity=2)
        frames = await until_ended(room, streaks=2)
        await room.close()
        return frames

    streaks = by_streak(run_scenario(scenario))

    # then there were two streaks, each ended with its own totals, the second named after its first send
    assert len(streaks) == 2
    first, second = (streaks[k] for k in sorted(streaks))
    assert (first[-1]["count"], first[-1]["sends"], first[-1]["coins"], first[-1]["ended"]) == (3, 3, 15, True)
    assert (second[-1]["count"], second[-1]["sends"], second[-1]["coins"], second[-1]["ended"]) == (4, 2, 20, True)
    fourth_send = GiftSend.objects.filter(stream=stream).order_by("pk")[3]
    assert sorted(streaks)[1] == fourth_send.pk


def test_two_senders_and_two_gifts_are_separate_streaks(daphne_server):
    # given two senders and two small gifts
    stream, viewer, ana, bikash = LiveStreamFactory(), UserFactory(), UserFactory(), UserFactory()
    rose, chiya = GiftFactory(coin_price=1), GiftFactory(coin_price=10)
    fund(ana, 500)
    fund(bikash, 500)

    def interleaved() -> None:
        for i in range(6):
            gift_send(sender_id=ana.pk, stream_id=stream.pk, gift_id=rose.pk, quantity=1)
            gift_send(sender_id=bikash.pk, stream_id=stream.pk, gift_id=rose.pk, quantity=1)
            if i % 2:
                gift_send(sender_id=ana.pk, stream_id=stream.pk, gift_id=chiya.pk, quantity=1)

    async def scenario():
        room = await join(daphne_server, stream, viewer)
        # when their sends interleave
        await in_thread(interleaved)
        frames = await until_ended(room, streaks=3)
        await room.close()
        return frames

    streaks = by_streak(run_scenario(scenario))

    # then each (sender, gift) had its own streak with its own totals
    finals = {(s[-1]["sender"]["id"], s[-1]["gift"]["id"]): (s[-1]["count"], s[-1]["coins"]) for s in streaks.values()}
    assert finals == {(ana.pk, rose.pk): (6, 6), (bikash.pk, rose.pk): (6, 6), (ana.pk, chiya.pk): (3, 30)}
    assert all(s[-1]["ended"] for s in streaks.values())


def test_a_large_gift_gets_its_own_event_per_send_beside_a_streak(daphne_server):
    # given a full-screen gift (at the large-gift price) and a small one
    stream, viewer, sender = LiveStreamFactory(), UserFactory(), UserFactory()
    everest, rose = GiftFactory(name="Everest", coin_price=1000), GiftFactory(coin_price=1)
    fund(sender, 3_010)

    def mixed() -> None:
        for _ in range(3):
            gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=everest.pk, quantity=1)
            gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=rose.pk, quantity=1)

    async def scenario():
        room = await join(daphne_server, stream, viewer)
        await in_thread(mixed)
        frames = await until_ended(room, streaks=1)
        await room.close()
        return frames

    frames = run_scenario(scenario)

    # then each Everest was its own gift.sent, in order, and the roses one streak of three
    sent = [f["payload"] for f in frames if f["type"] == "gift.sent"]
    everest_sends = list(GiftSend.objects.filter(gift=everest).order_by("pk").values_list("pk", flat=True))
    assert [p["id"] for p in sent] == everest_sends
    assert all((p["gift"]["id"], p["quantity"], p["coins"]) == (everest.pk, 1, 1000) for p in sent)
    (streak,) = by_streak(frames).values()
    assert streak[-1]["gift"]["id"] == rose.pk and (streak[-1]["count"], streak[-1]["ended"]) == (3, True)


def test_viewers_on_two_daphnes_see_the_same_streak_once(daphne_server, start_daphne):
    # given two viewers of one room on two daphne processes (both tick the room; one takes each round)
    second = start_daphne()
    stream, one, two, sender = LiveStreamFactory(), UserFactory(), UserFactory(), UserFactory()
    rose = GiftFactory(coin_price=1)
    fund(sender, 100)

    async def scenario():
        a = await join(daphne_server, stream, one)
        b = await join(second, stream, two)
        await in_thread(sends, sender, stream, rose, 20)
        got = [await until_ended(a, streaks=1), await until_ended(b, streaks=1)]
        await asyncio.sleep(WINDOW_MS / 1000)  # nothing more comes (no second end, no late frame)
        for room, frames in zip((a, b), got, strict=True):
            frames += [e for e in await room.drain(0.5) if e["type"].startswith("gift.")]
        await a.close()
        await b.close()
        return got

    on_a, on_b = run_scenario(scenario)

    # then both sockets got the same frames (each frame taken by one process, shown by both)
    assert on_a == on_b
    (streak,) = by_streak(on_a).values()
    assert [p["ended"] for p in streak].count(True) == 1
    assert (streak[-1]["count"], streak[-1]["coins"]) == (20, 20)


def test_with_combos_off_every_send_is_its_own_gift_sent(daphne_server, combo_settings):
    # given combos turned off
    combo_settings.LIVE_GIFT_COMBOS = False
    stream, viewer, sender = LiveStreamFactory(), UserFactory(), UserFactory()
    rose = GiftFactory(coin_price=1)
    fund(sender, 100)

    async def scenario():
        room = await join(daphne_server, stream, viewer)
        await in_thread(sends, sender, stream, rose, 5)
        got = [await room.next("gift.sent", "gift.combo") for _ in range(5)]
        got += [e for e in await room.drain(WINDOW_MS / 1000 + 0.5) if e["type"].startswith("gift.")]
        await room.close()
        return got

    frames = run_scenario(scenario)

    # then the room heard five gift.sent, one per send, and no combo
    assert [f["type"] for f in frames] == ["gift.sent"] * 5
    assert [f["payload"]["id"] for f in frames] == list(
        GiftSend.objects.filter(stream=stream).order_by("pk").values_list("pk", flat=True)
    )


def test_a_viewer_who_joins_after_a_streak_began_still_gets_its_end(daphne_server, combo_settings):
    # given a streak begun while nobody watched the room (no daphne ticks it), with a long window
    combo_settings.LIVE_GIFT_COMBO_WINDOW_MS = 2500
    stream, viewer, sender = LiveStreamFactory(), UserFactory(), UserFactory()
    rose = GiftFactory(coin_price=1)
    fund(sender, 100)
    sends(sender, stream, rose, 4)

    async def scenario():
        # when a viewer joins before the window has passed
        room = await join(daphne_server, stream, viewer)
        frames = await until_ended(room, streaks=1)
        await room.close()
        return frames

    (streak,) = by_streak(run_scenario(scenario)).values()

    # then the room's ticker found the streak it never heard begin (its held-back frame, then its end)
    assert [p["count"] for p in streak] == [4] * len(streak)
    assert [p["ended"] for p in streak] == [False] * (len(streak) - 1) + [True]
