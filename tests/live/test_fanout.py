"""Per-process fan-out (apps.live.fanout): rooms spread over two daphne processes."""

import pytest

from apps.live.events import layer_messages_flush, room_event_publish
from tests.live.test_rooms import join, live  # noqa: F401  (the `live` fixture)
from tests.live.wsclient import in_thread, run_scenario

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_events_reach_viewers_on_both_processes_in_order_and_a_kick_stops_one(daphne_server, start_daphne, live):  # noqa: F811
    # given a room with the host and a viewer on one daphne process, two viewers on another
    stream, host, (v1, v2, v3) = live
    other = start_daphne()

    async def scenario():
        h = await join(daphne_server, stream, host)
        a = await join(daphne_server, stream, v1)
        b = await join(other, stream, v2)
        c = await join(other, stream, v3)
        await h.until("viewers.updated", lambda p: p["count"] == 3)

        # when a viewer on the second process chats, then a server-side event and the host's chat follow
        await b.send("chat.send", {"text": "from b"})
        await b.next("chat.message")

        def warn() -> None:
            warning = {"stream_id": stream.pk, "user_id": host.pk, "message": "1"}
            room_event_publish(stream_id=stream.pk, event_type="moderation.warning", payload=warning)
            layer_messages_flush()  # on the layer before the host chats (the sender thread may lag under load)

        await in_thread(warn)
        await h.send("chat.send", {"text": "from host"})

        # then every socket on both processes gets the three in the same order
        for room in (h, a, b, c):
            kinds = ("chat.message", "moderation.warning")
            while len([e for e in room.seen if e["type"] in kinds]) < 3:
                await room.next(*kinds)
            got = [e for e in room.seen if e["type"] in kinds]
            assert [e["payload"].get("text", e["type"]) for e in got] == ["from b", "moderation.warning", "from host"]

        # when the host (first process) kicks a viewer on the second process
        await h.send("host.kick", {"user_id": v2.pk, "reason": "spam"})

        # then that socket is told and closed; its neighbour on the same process still hears the room
        closed = await b.next("session.closed")
        assert closed["payload"]["reason"] == "kicked"
        assert await b.close_code() == 4003
        assert (await c.next("viewer.kicked"))["payload"]["user_id"] == v2.pk
        await a.send("chat.send", {"text": "still here"})
        assert (await c.next("chat.message"))["payload"]["text"] == "still here"
        assert (await h.until("viewers.updated", lambda p: p["count"] == 2))["payload"]["count"] == 2

        # and when the last socket of the room on the second process leaves, the first carries on
        await c.close()
        await a.send("chat.send", {"text": "after c left"})
        assert (await h.next("chat.message"))["payload"]["text"] == "after c left"

    run_scenario(scenario)


def test_a_burst_of_events_arrives_complete_and_in_order(daphne_server, live):  # noqa: F811
    # given two viewers (events written in rounds: a burst shares them)
    stream, host, (v1, v2, _) = live

    async def scenario():
        a = await join(daphne_server, stream, v1)
        b = await join(daphne_server, stream, v2)

        # when 60 events are published back to back
        def burst():
            for i in range(60):
                warning = {"stream_id": stream.pk, "user_id": host.pk, "message": str(i)}
                room_event_publish(stream_id=stream.pk, event_type="moderation.warning", payload=warning)

        await in_thread(burst)

        # then both viewers get all of them, in order
        for room in (a, b):
            got = [(await room.next("moderation.warning"))["payload"]["message"] for _ in range(60)]
            assert got == [str(i) for i in range(60)]

    run_scenario(scenario)
