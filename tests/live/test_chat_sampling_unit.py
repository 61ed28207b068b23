"""The chat sampler's rules, on a clock the test drives (apps.live.sampling.ChatSampler)."""

import asyncio
import json
import time

from apps.live.fanout import _frames_sampled
from apps.live.sampling import RANK_ANY, RANK_FAN, RANK_STAFF, ChatSampler, chat_sees_everything, rank_limits


def offer_burst(sampler: ChatSampler, *, start: float, rate: float, seconds: float, rank: int = RANK_ANY):
    """Offer `rate` messages a second for `seconds`: the times of those shown to every viewer."""
    shown = []
    for i in range(int(rate * seconds)):
        now = start + i / rate
        if sampler.offer(rank, now)[0]:
            shown.append(now)
    return shown


def most_in_any_second(times: list[float]) -> int:
    return max((sum(1 for t in times if s <= t < s + 1.0) for s in times), default=0)


def test_below_the_threshold_everything_is_shown_and_sampling_stays_off():
    # given a room sampled above 10 chats/s
    sampler = ChatSampler(threshold=10, per_second=4)

    # when 10 messages a second arrive for five seconds
    shown = offer_burst(sampler, start=100.0, rate=10, seconds=5)

    # then every one is shown and the room says it is not sampled
    assert len(shown) == 50
    assert sampler.state() == {
        "active": False,
        "rate": 10,
        "threshold": 10,
        "max_per_second": 4,
        "shown_per_second": 4,
    }


def test_above_the_threshold_a_viewer_is_shown_at_most_n_in_any_second():
    # given a room sampled above 10 chats/s, 4 a second at most
    sampler = ChatSampler(threshold=10, per_second=4)

    # when 100 messages a second arrive for three seconds
    shown = offer_burst(sampler, start=100.0, rate=100, seconds=3)

    # then the first 10 pass before the 11th starts sampling, and after that no second holds more than 4
    assert shown[:10] == [100.0 + i / 100 for i in range(10)]
    sampled = [t for t in shown if t >= 100.1]
    assert 0 < most_in_any_second(sampled) <= 4
    assert sampler.active and sampler.state()["rate"] == 100


def test_sampling_starts_once_and_stops_after_a_quiet_spell():
    # given a busy room
    sampler = ChatSampler(threshold=5, per_second=3)
    starts = [sampler.offer(RANK_ANY, 100.0 + i / 20)[1] for i in range(20)]
    assert starts.count(True) == 1 and starts.index(True) == 5  # the sixth message in a second starts it

    # when the chat slows to 2 a second: still on while the quiet spell is short
    offer_burst(sampler, start=101.0, rate=2, seconds=2)
    assert not sampler.tick(102.5) and sampler.active

    # then three seconds after the last busy message (100.95) it stops, once, and shows everything again
    assert not sampler.tick(103.9) and sampler.active
    assert sampler.tick(104.0) and not sampler.active
    assert not sampler.tick(104.2)
    assert offer_burst(sampler, start=104.5, rate=4, seconds=1) == [104.5, 104.75, 105.0, 105.25]


def test_priority_authors_are_kept_while_everyone_else_floods():
    # given a room flooded with ordinary chat, 5 a second at most
    sampler = ChatSampler(threshold=10, per_second=5)
    anyone, fans, staff = rank_limits(5)
    assert (anyone, fans, staff) == (3, 4, 5)

    # when, among 100 ordinary messages a second, a gifter and the host each chat once a second
    kept, offered, shown_any = _flood(sampler, messages=500, period=100)

    # then every priority message is shown, ordinary ones fill what is left, and no second holds more than 5
    assert kept == offered == {RANK_FAN: 5, RANK_STAFF: 5}
    assert most_in_any_second([t for t in shown_any if t >= 100.2]) <= anyone


def test_a_zero_threshold_never_samples():
    sampler = ChatSampler(threshold=0, per_second=1)
    assert len(offer_burst(sampler, start=1.0, rate=200, seconds=1)) == 200
    assert not sampler.active


def test_the_host_moderators_and_staff_see_everything_and_viewers_do_not():
    assert chat_sees_everything(role="host", is_staff=False)
    assert chat_sees_everything(role="moderator", is_staff=False)
    assert chat_sees_everything(role="viewer", is_staff=True)
    assert not chat_sees_everything(role="viewer", is_staff=False)


class FakeSocket:
    """What the room's writer needs of a socket: frames are kept."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.backlog = None
        self.wire = None
        self.got: list[str] = []

    async def base_send(self, message: dict) -> None:
        self.got.append(message["text"])


def test_a_held_back_message_reaches_only_the_full_chat_sockets_and_its_author():
    # given a host socket (sees everything), an author with two sockets and another viewer
    host, author_a, author_b, other = FakeSocket(1), FakeSocket(2), FakeSocket(2), FakeSocket(3)
    sockets = (host, author_a, author_b, other)
    frames = [({"type": "websocket.send", "text": "shown 1"}, None), ({"type": "websocket.send", "text": "held"}, 2)]
    frames.append(({"type": "websocket.send", "text": "shown 2"}, None))

    # when a round with a message held back from viewers is written
    asyncio.run(_frames_sampled(sockets, {host}, {1: {host}, 2: {author_a, author_b}, 3: {other}}, frames))

    # then the host and both of the author's sockets get all three in order, the other viewer only what is shown
    assert host.got == author_a.got == author_b.got == ["shown 1", "held", "shown 2"]
    assert other.got == ["shown 1", "shown 2"]


class RoomSocket(FakeSocket):
    """A viewer's socket as a LocalRoom holds it."""

    def __init__(self, user_id: int, stream_id: int) -> None:
        super().__init__(user_id)
        self.stream_id = stream_id
        self.sees_all_chat = False

    def rules_note(self, event: dict) -> None:
        pass

    async def end(self, reason: str) -> None:
        pass


def test_a_process_that_fell_behind_shows_viewers_what_is_said_now_not_its_backlog(settings):
    # given a room sampled above 1 chat/s (5 a second at most), messages older than 2 s not shown when sampled
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVE_CHAT_SAMPLING_THRESHOLD = 1
    settings.LIVE_CHAT_SAMPLING_PER_SECOND = 5
    settings.LIVE_CHAT_SAMPLING_MAX_AGE_MS = 2000
    from apps.live.events import room_event_message, stream_group_name
    from apps.live.fanout import LocalRoom, subscription_join, subscription_leave

    def chat(n: int, sent: float) -> dict:
        message = room_event_message("chat.message", {"id": str(n), "user": {"id": 2}, "text": f"m{n}"})
        return {**message, "chat_rank": RANK_ANY, "chat_sent": sent}

    async def scenario() -> list[str]:
        registry: dict = {}
        viewer = RoomSocket(3, stream_id=91)
        room = await subscription_join(registry, stream_group_name(91), viewer, lambda g, r: LocalRoom(g, r, 91))
        room.socket_add(viewer)
        try:
            now = time.time()
            await room.handle(chat(0, now))
            await room.handle(chat(1, now))  # the second message in a second starts sampling
            # when this process reads a backlog sent 10 s ago (it fell behind), then what is said now
            for n in range(2, 6):
                await room.handle(chat(n, now - 10))
            await room.handle(chat(6, time.time()))
            await asyncio.sleep(0.3)  # the writer's round
        finally:
            subscription_leave(registry, stream_group_name(91), viewer)
        frames = [json.loads(text) for text in viewer.got]
        return [f["payload"]["text"] for f in frames if f["type"] == "chat.message"]

    # then the viewer is shown the fresh messages; the stale backlog takes none of the sample's slots
    assert asyncio.run(scenario()) == ["m0", "m1", "m6"]


def shown_in_window(times: list[float], window: float) -> int:
    return max((sum(1 for t in times if s <= t < s + window) for s in times), default=0)


def test_the_frame_budget_lowers_the_rate_a_viewer_is_shown_when_a_process_holds_many_sockets():
    # given a room shown 5 a second at most, on a process that may write 1,000 sampled frames a second
    sampler = ChatSampler(threshold=10, per_second=5, budget=1000)

    # when the process holds 100 viewer sockets, the budget does not bind; at 1,000 it allows 1 a second each
    assert not sampler.sockets_count(100)
    assert sampler.state()["shown_per_second"] == 5
    assert sampler.sockets_count(1000)
    assert sampler.state()["shown_per_second"] == 1

    # then, while 100 ordinary messages a second arrive for 20 s, a viewer is shown at most 1 a second on
    # average: ordinary authors fill 3 of the 5 slots of every 5 seconds, spread out (5 / 3 s apart)
    shown = [t for t in offer_burst(sampler, start=100.0, rate=100, seconds=20) if t >= 100.1]
    assert 0 < shown_in_window(shown, 5.0) <= 3
    assert len(shown) <= 3 * 20 / 5 + 3
    assert min(b - a for a, b in zip(shown, shown[1:], strict=False)) >= 5 / 3 - 1e-9
    # where without the budget the same flood shows 3 a second
    unbudgeted = ChatSampler(threshold=10, per_second=5, budget=0)
    assert not unbudgeted.sockets_count(1000)
    assert len([t for t in offer_burst(unbudgeted, start=100.0, rate=100, seconds=20) if t >= 100.1]) >= 3 * 19


def test_a_process_holding_many_sockets_samples_from_a_lower_rate():
    # given a room sampled above 10 chats/s on a process that may write 1,000 sampled frames a second
    sampler = ChatSampler(threshold=10, per_second=5, budget=1000)

    # when the process holds 500 viewer sockets (10 chats/s would cost 5,000 frames/s)
    assert sampler.sockets_count(500)

    # then sampling starts above 2 chats/s, and the room state says so
    assert sampler.state()["threshold"] == 2 and sampler.state()["shown_per_second"] == 2
    starts = [sampler.offer(RANK_ANY, 100.0 + i / 5)[1] for i in range(5)]
    assert starts == [False, False, True, False, False]


def test_the_rate_under_the_budget_moves_only_by_a_quarter():
    sampler = ChatSampler(threshold=10, per_second=5, budget=1000)
    assert sampler.sockets_count(1000) and sampler.shown_per_second == 1
    # a few more or fewer sockets: no change (no announcement per join)
    assert not sampler.sockets_count(1100)
    assert not sampler.sockets_count(900)
    assert sampler.shown_per_second == 1
    # twice as many: half the rate; few again: the full rate and threshold (1,000 / 150 = 6.67 a socket)
    assert sampler.sockets_count(2000) and sampler.state()["shown_per_second"] == 0.5
    assert sampler.sockets_count(150) and sampler.state()["shown_per_second"] == 5
    assert sampler.state()["threshold"] == 6
    assert sampler.sockets_count(10) and sampler.state()["threshold"] == 10


def test_under_the_budget_the_host_and_gifters_are_still_shown_first():
    # given a flooded room whose viewers are shown half a message a second (the 5 slots span 10 s)
    sampler = ChatSampler(threshold=10, per_second=5, budget=1000)
    assert sampler.sockets_count(2000)

    # when, among 100 ordinary messages a second for 50 s, a gifter and the host each chat once every 10 s
    kept, offered, shown_any = _flood(sampler, messages=5000, period=1000)

    # then every priority message is shown and ordinary ones fill at most 3 of each 10 s
    assert kept == offered == {RANK_FAN: 5, RANK_STAFF: 5}
    assert 0 < shown_in_window([t for t in shown_any if t >= 100.1], 10.0) <= 3


def test_a_process_announces_the_lower_rate_when_many_viewers_join_a_sampled_room(settings):
    # given a room sampled above 1 chat/s, 4 a second at most, on a process that may write 4 sampled frames a second
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVE_CHAT_SAMPLING_THRESHOLD = 1
    settings.LIVE_CHAT_SAMPLING_PER_SECOND = 4
    settings.LIVE_CHAT_FRAMES_PER_SECOND_BUDGET = 4
    from apps.live.events import room_event_message, stream_group_name
    from apps.live.fanout import LocalRoom, subscription_join, subscription_leave

    def chat(n: int) -> dict:
        message = room_event_message("chat.message", {"id": str(n), "user": {"id": 2}, "text": f"m{n}"})
        return {**message, "chat_rank": RANK_ANY, "chat_sent": time.time()}

    async def scenario() -> tuple[list[dict], list[dict], dict]:
        registry: dict = {}
        host = RoomSocket(1, stream_id=92)
        host.sees_all_chat = True
        first = RoomSocket(3, stream_id=92)
        others = [RoomSocket(10 + n, stream_id=92) for n in range(5)]
        sockets = [host, first, *others]

        async def add(sock: RoomSocket) -> LocalRoom:
            room = await subscription_join(registry, stream_group_name(92), sock, lambda g, r: LocalRoom(g, r, 92))
            assert isinstance(room, LocalRoom)
            room.socket_add(sock)
            return room

        try:
            room = await add(host)
            await add(first)
            await room.handle(chat(0))
            await room.handle(chat(1))  # sampling starts: announced at 4 a second
            await asyncio.sleep(0.2)
            for sock in others[:3]:  # 2, 3, 4 viewer sockets (the host's does not count): 2, 1.33, 1 a second
                await add(sock)
            await add(others[3])  # 5: 0.8 a second, within a quarter of 1: not announced
            await asyncio.sleep(0.2)
            welcome = room.sampler.state()  # what a welcome says (apps.live.fanout.socket_chat_sampling)
            await add(others[4])  # 6: 0.67 a second, a quarter under 1: announced
            await asyncio.sleep(0.2)
        finally:
            for sock in sockets:
                subscription_leave(registry, stream_group_name(92), sock)
        events = [[json.loads(text) for text in sock.got] for sock in (host, first)]
        host_got, first_got = ([e["payload"] for e in got if e["type"] == "chat.sampling"] for got in events)
        return host_got, first_got, welcome

    host_got, first_got, welcome = asyncio.run(scenario())

    # then the room is told when sampling starts at the full rate, and then each material drop, host included
    assert [a["shown_per_second"] for a in first_got] == [4, 2, 1.33, 1, 0.67]
    assert host_got == first_got and all(a["active"] and a["max_per_second"] == 4 for a in first_got)
    # and the room state a socket joining meanwhile is welcomed with holds the rate in force
    assert welcome["active"] and welcome["shown_per_second"] == 1


def _flood(sampler, *, messages: int, period: int) -> tuple[dict, dict, list[float]]:
    """Offer `messages` at 100 a second from t=100 s; in each `period` of them one comes from a gifter
    (at 37%) and one from the host (at 71%), the rest are ordinary. Returns the priority messages
    kept and offered by rank, and when the ordinary ones that were shown arrived."""
    kept = {RANK_FAN: 0, RANK_STAFF: 0}
    offered = {RANK_FAN: 0, RANK_STAFF: 0}
    shown_any: list[float] = []
    for i in range(messages):
        now = 100.0 + i / 100
        rank = {period * 37 // 100: RANK_FAN, period * 71 // 100: RANK_STAFF}.get(i % period, RANK_ANY)
        shown = sampler.offer(rank, now)[0]
        if rank == RANK_ANY:
            if shown:
                shown_any.append(now)
        else:
            offered[rank] += 1
            kept[rank] += shown
    return kept, offered, shown_any
