"""apps.live.fanout in one process, on the in-memory layer (the embedded default's)."""

import asyncio

from channels.layers import get_channel_layer

from apps.live import fanout
from apps.live.fanout import Subscription, subscription_join, subscription_leave


class Collect(Subscription):
    def __init__(self, group, registry):
        super().__init__(group, registry)
        self.got = []

    async def handle(self, message):
        self.got.append(message["n"])


def test_one_subscription_per_group_delivers_once_renews_and_ends_with_its_last_socket(settings, monkeypatch):
    # given the in-memory layer forgetting group members after 1 s, and renewals every 0.2 s
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"group_expiry": 1}}
    }
    monkeypatch.setattr(fanout, "RENEW_SECONDS", 0.2)

    async def scenario():
        registry = {}
        layer = get_channel_layer()
        # when two sockets join the same group
        a = await subscription_join(registry, "room", "socket 1", Collect)
        b = await subscription_join(registry, "room", "socket 2", Collect)
        # then they share one subscription, which still hears the group after the expiry
        assert a is b and registry == {"room": a}
        await asyncio.sleep(2.5)
        await layer.group_send("room", {"type": "x", "n": 1})
        await asyncio.sleep(0.05)
        assert a.got == [1]
        # and it ends with its last socket: nothing more arrives
        assert subscription_leave(registry, "room", "socket 1") is a
        assert subscription_leave(registry, "room", "socket 2") is None
        assert registry == {}
        await asyncio.sleep(0.05)
        await layer.group_send("room", {"type": "x", "n": 2})
        await asyncio.sleep(0.05)
        assert a.got == [1]

    asyncio.run(scenario())


def test_room_events_queued_together_travel_as_one_message_per_run_of_a_group():
    from apps.live.events import layer_message_events, layer_messages_coalesce

    def event(n):
        return {"type": "room.event", "event": {"type": "gift.sent", "payload": {"n": n}}}

    close = {"type": "session.close", "reason": "kicked", "stream_id": 1}
    queued = [("stream_1", event(1)), ("stream_1", event(2)), ("user_9", close), ("stream_1", event(3))]
    queued += [("stream_2", event(4)), ("stream_1", event(5)), ("stream_1", event(6))]

    merged = layer_messages_coalesce(queued)

    # each run of one group's room events became one message; nothing else moved or merged
    assert [group for group, _ in merged] == ["stream_1", "user_9", "stream_1", "stream_2", "stream_1"]
    assert [[e["payload"]["n"] for e in layer_message_events(m) or []] for _, m in merged] == [
        [1, 2],
        [],
        [3],
        [4],
        [5, 6],
    ]
    assert merged[1][1] is close
    assert queued[0][1] == event(1)  # the queued messages themselves are untouched


class FakeSocket:
    def __init__(self, user_id, stream_id=1):
        self.user_id, self.stream_id, self.backlog, self.wire = user_id, stream_id, None, None
        self.frames, self.noted, self.ended = [], [], []

    async def base_send(self, message):
        self.frames.append(message["text"])

    def rules_note(self, event):
        self.noted.append(event["type"])

    async def end(self, reason):
        self.ended.append(reason)


def test_one_users_subscription_hands_each_user_message_to_that_users_sockets_only(settings):
    # given the in-memory layer, and a process holding two sockets of user 7 and one of user 8
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from apps.live.events import USERS_GROUP, layer_route, room_event_message, user_group_name

    async def scenario():
        registry = {}
        layer = get_channel_layer()
        seven_a, seven_b, eight = FakeSocket(7), FakeSocket(7, stream_id=2), FakeSocket(8)
        subs = {await subscription_join(registry, USERS_GROUP, s, fanout.LocalUsers) for s in (seven_a, seven_b, eight)}
        # then they share the process's one subscription
        assert len(subs) == 1 and list(registry) == [USERS_GROUP]
        # when an event and a close for stream 2 are addressed to user 7
        await layer.group_send(*layer_route(user_group_name(7), room_event_message("linkcast.invited", {"id": 1})))
        close = {"type": "session.close", "reason": "kicked", "stream_id": 2}
        await layer.group_send(*layer_route(user_group_name(7), close))
        await asyncio.sleep(0.05)
        # then both of user 7's sockets got the event, only the stream 2 socket was closed, user 8 heard nothing
        assert seven_a.noted == seven_b.noted == ["linkcast.invited"] and len(seven_a.frames) == 1
        assert (seven_a.ended, seven_b.ended) == ([], ["kicked"])
        assert (eight.frames, eight.ended) == ([], [])
        # and a user's last socket leaving forgets the user; the last socket ends the subscription
        subscription_leave(registry, USERS_GROUP, eight)
        assert 8 not in next(iter(subs)).by_user
        subscription_leave(registry, USERS_GROUP, seven_a)
        subscription_leave(registry, USERS_GROUP, seven_b)
        assert registry == {}

    asyncio.run(scenario())


def test_a_users_address_travels_on_the_users_group_with_the_users_id():
    from apps.live.events import USERS_GROUP, layer_route, user_group_name

    close = {"type": "session.close", "reason": "banned", "stream_id": None}
    assert layer_route(user_group_name(42), close) == (USERS_GROUP, {**close, "user_id": 42})
    assert "user_id" not in close  # the queued message is untouched
    assert layer_route("stream_42", close) == ("stream_42", close)
