"""Stream rooms against a real daphne process, the Redis pub/sub channel layer and PostgreSQL."""

import json

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.services import block_create, follow_create, user_ban
from apps.gifts.services import gift_send
from apps.live.events import room_event_publish, user_sockets_close
from apps.live.models import StreamKick, StreamMute
from apps.live.services import stream_end
from apps.moderation.models import BannedWord
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory
from tests.live.factories import LiveStreamFactory
from tests.live.wsclient import Room, in_thread, run_scenario
from tests.wallet.factories import fund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def token(user) -> str:
    """An access token made without touching the database (scenarios run inside an event loop)."""
    return str(AccessToken.for_user(user))


@pytest.fixture
def live(daphne_server):
    """A live stream, its host and three viewers with tokens."""
    stream = LiveStreamFactory()
    viewers = [UserFactory() for _ in range(3)]
    return stream, stream.host, viewers


async def join(server, stream, user, **kw) -> Room:
    room = await Room.open(server.ws, stream.pk, token(user), **kw)
    welcome = await room.next()
    assert welcome["type"] == "room.welcome", welcome
    room.welcome = welcome["payload"]
    return room


def test_chat_and_gifts_arrive_in_order_for_everyone_and_counts_are_right(daphne_server, live):
    # given a host and two viewers in the room (one signs in through the subprotocol), and a funded sender
    stream, host, (v1, v2, late) = live
    gift = GiftFactory(name="Momo", coin_price=20)
    fund(v2, 100)

    async def scenario():
        h = await join(daphne_server, stream, host)
        a = await join(daphne_server, stream, v1)
        b = await join(daphne_server, stream, v2, subprotocol=True)
        assert h.welcome["you"]["role"] == "host" and a.welcome["you"]["role"] == "viewer"
        await h.until("viewers.updated", lambda p: p["count"] == 2)  # the host is not a viewer

        # when a viewer chats, a gift is sent through the gift service, and the host answers
        await a.send("chat.send", {"text": "namaste!"})
        await a.next("chat.message")  # own message echoed: the gift is sent after it
        await in_thread(gift_send, sender_id=v2.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=2)
        await h.next("gift.combo")
        await h.send("chat.send", {"text": "dhanyabad"})

        # then every socket sees the three events in the same order
        for room in (h, a, b):
            kinds = ("chat.message", "gift.combo")
            while len([e for e in room.seen if e["type"] in kinds]) < 3:
                await room.next(*kinds)
            got = [e for e in room.seen if e["type"] in kinds][:3]  # the streak's end comes seconds later
            assert [e["type"] for e in got] == ["chat.message", "gift.combo", "chat.message"]
            assert got[0]["payload"]["text"] == "namaste!"
            assert got[0]["payload"]["user"]["id"] == v1.pk
            assert (got[1]["payload"]["count"], got[1]["payload"]["coins"]) == (2, 40)
            assert got[2]["payload"]["user"]["role"] == "host"

        # and a late joiner gets the recent chat history and the right count
        c = await join(daphne_server, stream, late)
        assert [m["text"] for m in c.welcome["history"]] == ["namaste!", "dhanyabad"]
        await h.until("viewers.updated", lambda p: p["count"] == 3)
        await b.close()
        await h.until("viewers.updated", lambda p: p["count"] == 2)
        for room in (h, a, c):
            await room.close()

    run_scenario(scenario)
    stream.refresh_from_db()
    assert stream.peak_viewers == 3
    assert stream.gift_coins_total in (0, 40)  # the gifts app refreshes totals on its own schedule


def test_kick_closes_the_socket_and_the_viewer_cannot_rejoin(daphne_server, live, auth_client):
    stream, host, (v1, v2, _) = live

    async def scenario():
        h = await join(daphne_server, stream, host)
        a = await join(daphne_server, stream, v1)
        b = await join(daphne_server, stream, v2)

        # when the host kicks v1
        await h.send("host.kick", {"user_id": v1.pk, "reason": "spam"})

        # then v1 is told why and its socket closes with 4003; the others see viewer.kicked
        closed = await a.next("session.closed")
        assert closed["payload"]["reason"] == "kicked"
        assert await a.close_code() == 4003
        assert (await b.next("viewer.kicked"))["payload"]["user_id"] == v1.pk

        # and v1 cannot come back
        again = await Room.open(daphne_server.ws, stream.pk, token(v1))
        refused = await again.next()
        assert refused["type"] == "error" and refused["payload"]["code"] == "kicked"
        assert await again.close_code() == 4003
        await h.close()
        await b.close()

    run_scenario(scenario)
    assert StreamKick.objects.filter(stream=stream, user=v1).exists()
    response = auth_client(v1).post(f"/api/v1/streams/{stream.pk}/join/")
    assert response.status_code == 403 and response.json()["code"] == "kicked"


def test_ending_the_stream_tells_and_closes_every_socket(daphne_server, live):
    stream, host, viewers = live

    async def scenario():
        rooms = [await join(daphne_server, stream, u) for u in (host, *viewers)]
        await in_thread(stream_end, stream_id=stream.pk, reason="done for today")
        for room in rooms:
            ended = await room.next("stream.ended")
            assert ended["payload"]["reason"] == "done for today"
            assert (await room.next("session.closed"))["payload"]["reason"] == "stream_ended"
            assert await room.close_code() == 4010
        # a closed stream refuses new sockets
        late = await Room.open(daphne_server.ws, stream.pk, token(viewers[0]))
        assert (await late.next())["payload"]["code"] == "stream_not_live"
        assert await late.close_code() == 4004

    run_scenario(scenario)


def test_bad_events_get_an_error_and_never_reach_other_viewers(daphne_server, live):
    stream, host, (v1, v2, _) = live

    async def scenario():
        h = await join(daphne_server, stream, host)
        a = await join(daphne_server, stream, v1)
        b = await join(daphne_server, stream, v2)
        bad = [
            ("not json at all", "invalid_event"),
            (json.dumps(["a", "list"]), "invalid_event"),
            (json.dumps({"type": "chat.shout", "payload": {}}), "unknown_event"),
            (json.dumps({"type": "chat.send", "payload": "hi"}), "invalid_event"),
            (json.dumps({"type": "chat.send", "payload": {}}), "invalid_event"),
            (json.dumps({"type": "chat.send", "payload": {"text": "x" * 301}}), "invalid_event"),
            (json.dumps({"type": "chat.send", "payload": {"text": "hi", "color": "red"}}), "invalid_event"),
            (json.dumps({"type": "host.kick", "payload": {"user_id": v2.pk}}), "not_stream_host"),
            (json.dumps({"type": "like.send", "payload": {"count": 0}}), "invalid_event"),
        ]
        for frame, code in bad:
            await a.send_raw(frame)
            error = await a.next("error")
            assert error["payload"]["code"] == code, (frame, error)
            assert set(error["payload"]) >= {"code", "message", "details"}
        await a.send("ping", {"t": 1}, ref="r1")
        assert (await a.next("pong"))["payload"] == {"t": 1}
        await a.send("chat.shout", ref="abc")
        assert (await a.next("error"))["payload"]["ref"] == "abc"
        await a.send_raw(b"\x00binary")
        assert (await a.next("error"))["payload"]["code"] == "invalid_event"

        # the socket survived all of it, and the others saw nothing but the sentinel
        await h.send("chat.send", {"text": "sentinel"})
        await b.until("chat.message", lambda p: p["text"] == "sentinel")
        leaked = [
            e for e in b.seen if e["type"] in ("error", "chat.message") and e["payload"].get("text") != "sentinel"
        ]
        assert not leaked
        await a.send("chat.send", {"text": "still here"})
        assert (await a.until("chat.message", lambda p: p["user"]["id"] == v1.pk))["payload"]["text"] == "still here"
        for room in (h, a, b):
            await room.close()

    run_scenario(scenario)


def test_unauthenticated_banned_and_blocked_users_are_refused(daphne_server, live):
    stream, host, (v1, v2, v3) = live
    banned_token = token(v1)
    user_ban(user=v1, days=3, reason="abuse")
    block_create(blocker=host, blocked=v2)

    async def refused(tok: str | None) -> tuple[str, int]:
        room = await Room.open(daphne_server.ws, stream.pk, tok)
        event = await room.next()
        assert event["type"] == "error"
        return event["payload"]["code"], await room.close_code()

    async def scenario():
        assert await refused(None) == ("not_authenticated", 4001)
        assert await refused("not-a-jwt") == ("not_authenticated", 4001)
        assert await refused(banned_token) == ("not_authenticated", 4001)
        assert await refused(token(v2)) == ("user_blocked", 4003)
        nowhere = await Room.open(daphne_server.ws, 999999, token(v3))
        assert (await nowhere.next())["payload"]["code"] == "not_found"
        assert await nowhere.close_code() == 4004

    run_scenario(scenario)


def test_a_ban_while_connected_closes_the_users_sockets(daphne_server, live):
    stream, host, (v1, v2, _) = live

    async def scenario():
        a = await join(daphne_server, stream, v1)
        b = await join(daphne_server, stream, v2)
        await in_thread(user_sockets_close, user_id=v1.pk, reason="banned")
        assert (await a.next("session.closed"))["payload"]["reason"] == "banned"
        assert await a.close_code() == 4003
        # others stay, and hear moderation warnings published by other apps
        warning = {
            "stream_id": stream.pk,
            "user_id": v1.pk,
            "message": "Keep it clean",
        }  # as moderation's warn sends it
        await in_thread(room_event_publish, stream_id=stream.pk, event_type="moderation.warning", payload=warning)
        assert (await b.next("moderation.warning"))["payload"]["message"] == "Keep it clean"
        await b.close()

    run_scenario(scenario)


def test_chat_rules_rate_limit_slow_mode_followers_only_mute_and_word_filter(daphne_server, live):
    stream, host, (v1, v2, _) = live
    BannedWord.objects.create(term="badword")

    async def scenario():
        h = await join(daphne_server, stream, host)
        a = await join(daphne_server, stream, v1)

        # the moderation filter masks words before anyone sees them
        await a.send("chat.send", {"text": "you badword"})
        masked = await h.next("chat.message")
        assert "badword" not in masked["payload"]["text"] and masked["payload"]["text"].startswith("you ")

        # per-user rate limit: 5 messages per 10 s, the 6th is refused
        for i in range(4):
            await a.send("chat.send", {"text": f"m{i}"})
        await h.until("chat.message", lambda p: p["text"] == "m3")
        await a.send("chat.send", {"text": "one too many"})
        limited = await a.next("error")
        assert limited["payload"]["code"] == "chat_rate_limited"

        # followers-only: v2 is refused until they follow the host
        b = await join(daphne_server, stream, v2)
        await h.send("host.chat_mode", {"mode": "followers", "slow_mode_seconds": 30})
        assert (await b.next("chat.mode"))["payload"] == {"mode": "followers", "slow_mode_seconds": 30}
        await b.send("chat.send", {"text": "can I?"})
        assert (await b.next("error"))["payload"]["details"]["chat_mode"] == "followers"
        await in_thread(follow_create, follower=v2, followee=host)
        await b.send("chat.send", {"text": "now I follow"})
        assert (await h.next("chat.message"))["payload"]["text"] == "now I follow"
        # slow mode: a second message within 30 s is refused with the wait
        await b.send("chat.send", {"text": "again"})
        slow = await b.next("error")
        assert slow["payload"]["code"] == "chat_rate_limited" and slow["payload"]["details"]["slow_mode_seconds"] == 30

        # the host mutes v2, then unmutes
        await h.send("host.chat_mode", {"mode": "everyone", "slow_mode_seconds": 0})
        await b.next("chat.mode")
        await h.send("host.mute", {"user_id": v2.pk, "minutes": 5})
        assert (await b.next("chat.muted"))["payload"]["user_id"] == v2.pk
        await b.send("chat.send", {"text": "muted?"})
        assert (await b.next("error"))["payload"]["code"] == "chat_refused"
        await h.send("host.unmute", {"user_id": v2.pk})
        await b.next("chat.unmuted")
        await b.send("chat.send", {"text": "free again"})
        assert (await h.until("chat.message", lambda p: p["user"]["id"] == v2.pk))["payload"]["text"] == "free again"

        # pin: everyone sees it, late joiners get it in the welcome
        await h.send("host.pin", {"message_id": masked["payload"]["id"]})
        assert (await b.next("chat.pinned"))["payload"]["message"]["id"] == masked["payload"]["id"]
        c = await join(daphne_server, stream, v1)
        assert c.welcome["stream"]["pinned"]["id"] == masked["payload"]["id"]
        for room in (h, a, b, c):
            await room.close()

    run_scenario(scenario)
    assert not StreamMute.objects.filter(stream=stream, user=v2).exists()


def test_likes_are_summed_and_broadcast_a_few_times_a_second(daphne_server, live):
    stream, host, (v1, v2, _) = live

    async def scenario():
        h = await join(daphne_server, stream, host)
        a = await join(daphne_server, stream, v1)
        for _ in range(20):
            await a.send("like.send", {"count": 3})
        event = await h.until("likes.updated", lambda p: p["total"] == 60)
        updates = [e for e in h.seen if e["type"] == "likes.updated"]
        assert sum(e["payload"]["delta"] for e in updates) == 60
        assert len(updates) < 20  # aggregated, not one broadcast per like
        assert event["payload"]["total"] == 60
        await h.close()
        await a.close()

    run_scenario(scenario)


def test_viewer_count_spans_processes_and_recovers_when_one_dies(daphne_server, start_daphne, live):
    # given a second daphne process serving the same room
    stream, host, (v1, v2, v3) = live
    other = start_daphne()

    async def scenario():
        h = await join(daphne_server, stream, host)
        await join(daphne_server, stream, v1)
        await join(other, stream, v2)
        await join(other, stream, v3)
        # then the host (on the first process) counts viewers of both
        await h.until("viewers.updated", lambda p: p["count"] == 3)
        # when the second process dies without saying goodbye
        await in_thread(other.kill)
        # then its viewers expire from presence (TTL 3 s in these tests)
        await h.until("viewers.updated", lambda p: p["count"] == 1, timeout=12)

    run_scenario(scenario)
