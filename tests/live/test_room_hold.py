"""Hold for review in a real room (daphne, the Redis channel layer, PostgreSQL): the sender alone
sees a held message as pending, the host approves or rejects it, viewers cannot."""

import pytest

from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory
from tests.live.test_rooms import join
from tests.live.wsclient import run_scenario
from tests.moderation.factories import banned_word

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_held_message_is_pending_for_its_sender_until_the_host_decides(daphne_server):
    # given a host and two viewers; "idiot" and "crap" (45) are inside the default hold band (40..60)
    banned_word("idiot", severity=45)
    banned_word("crap", severity=45)
    stream = LiveStreamFactory()
    sender, other = UserFactory(), UserFactory()

    async def scenario():
        h = await join(daphne_server, stream, stream.host)
        a = await join(daphne_server, stream, sender)
        b = await join(daphne_server, stream, other)

        # when a viewer sends a grey-zone message
        await a.send("chat.send", {"text": "you idiot"})

        # then only the sender sees it, as pending, and the host is asked
        pending = (await a.next("chat.pending"))["payload"]
        assert pending["text"] == "you idiot" and pending["stream_id"] == stream.pk
        held = (await h.next("chat.held"))["payload"]
        assert held["id"] == pending["id"] and held["user"]["id"] == sender.pk

        # a viewer cannot approve it
        await b.send("chat.approve", {"message_id": pending["id"]}, ref="v-1")
        refused = (await b.next("error"))["payload"]
        assert refused["code"] == "held_message_not_yours" and refused["ref"] == "v-1"

        # when the host approves it, everyone gets it as written, and the sender is told
        await h.send("chat.approve", {"message_id": pending["id"]})
        for room in (h, a, b):
            message = (await room.next("chat.message"))["payload"]
            assert (message["id"], message["text"], message["user"]["id"]) == (pending["id"], "you idiot", sender.pk)
        # (the sender's own group and the room's are two subscriptions: either may arrive first)
        approved = [e for e in a.seen if e["type"] == "chat.approved"] or [await a.next("chat.approved")]
        assert approved[0]["payload"] == {"id": pending["id"], "stream_id": stream.pk}

        # a second grey-zone message, rejected: only its sender hears of it
        await a.send("chat.send", {"text": "crap stream"})
        second = (await a.next("chat.pending"))["payload"]
        await h.next("chat.held")
        await h.send("chat.reject", {"message_id": second["id"]})
        assert (await a.next("chat.rejected"))["payload"] == {"id": second["id"], "stream_id": stream.pk}
        # deciding again is refused
        await h.send("chat.approve", {"message_id": second["id"]})
        assert (await h.next("error"))["payload"]["code"] == "held_message_decided"
        assert not [e for e in b.seen if e["type"] in ("chat.pending", "chat.held", "chat.rejected")]
        assert [e["payload"]["text"] for e in b.seen if e["type"] == "chat.message"] == ["you idiot"]

    run_scenario(scenario)
