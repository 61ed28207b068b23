"""Room moderators: a host appoints up to LIVE_ROOM_MODERATORS_MAX users who may mute, kick, pin and
delete chat in all of the host's rooms; their actions are in the moderation audit log."""

import pytest
from django.test import override_settings

from apps.accounts.services import block_create
from apps.live import selectors, services
from apps.live.events import stream_group_name
from apps.live.exceptions import NotRoomModerator, NotStreamHost
from apps.live.models import RoomModerator, Stream, StreamKick, StreamMute
from apps.moderation.models import ModerationAction
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory
from tests.live.test_rooms import join
from tests.live.wsclient import in_thread, run_scenario

URL = "/api/v1/streams/moderators/"


def appoint(host, user) -> RoomModerator:
    appointment, _ = services.room_moderator_add(host=host, user_id=user.pk)
    return appointment


def chat(user, text: str = "namaste", message_id: str = "a1b2c3d4e5f60718") -> dict:
    return {
        "id": message_id,
        "user": {"id": user.pk, "username": user.username, "display_name": user.name, "avatar": None, "role": "viewer"},
        "text": text,
        "sent_at": "2026-03-01T20:30:15.123Z",
    }


# --- Appointing -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_host_appoints_lists_and_removes_a_moderator_and_the_live_room_hears_it(auth_client, room_listener):
    # given a live host and a user
    stream = LiveStreamFactory()
    host, user = stream.host, UserFactory()
    listener = room_listener(stream_group_name(stream.pk))
    client = auth_client(host)

    # when the host appoints them, twice (a retry)
    first = client.post(URL, {"user_id": user.pk}, format="json")
    again = client.post(URL, {"user_id": user.pk}, format="json")

    # then one appointment exists, the room heard it once, and the list shows it
    assert first.status_code == 201, first.content
    assert again.status_code == 200
    assert first.json()["user"]["id"] == user.pk
    assert RoomModerator.objects.filter(host=host).count() == 1
    added = listener.heard("room.moderator_added")
    assert [payload["user"]["id"] for _, _, payload in added] == [user.pk]
    listed = client.get(URL)
    assert listed.status_code == 200
    assert [row["user"]["id"] for row in listed.json()["results"]] == [user.pk]
    assert selectors.stream_moderator_is(stream_id=stream.pk, user_id=user.pk)
    assert selectors.stream_moderator_is_cached(host_id=host.pk, user_id=user.pk)

    # when the host removes them
    removed = client.delete(f"{URL}{user.pk}/")

    # then they are no moderator any more, in the database and in the cached form, and the room heard it
    assert removed.status_code == 204
    assert not selectors.stream_moderator_is(stream_id=stream.pk, user_id=user.pk)
    assert not selectors.stream_moderator_is_cached(host_id=host.pk, user_id=user.pk)
    assert [p["user_id"] for _, _, p in listener.heard("room.moderator_removed")] == [user.pk]
    # and both are in the audit log, by the host
    lines = ModerationAction.objects.filter(actor=host, target_user=user).order_by("pk")
    assert [line.action for line in lines] == ["moderator_add", "moderator_remove"]


@pytest.mark.django_db
def test_the_twenty_first_moderator_is_refused_with_a_clear_code_and_nothing_written(auth_client):
    # given a host with 20 moderators
    host = UserFactory()
    for user in UserFactory.create_batch(20):
        appoint(host, user)
    extra = UserFactory()

    # when they appoint one more
    response = auth_client(host).post(URL, {"user_id": extra.pk}, format="json")

    # then 409 room_moderator_limit, and still 20
    assert response.status_code == 409
    assert response.json() == {
        "code": "room_moderator_limit",
        "message": response.json()["message"],
        "details": {"max": 20},
    }
    assert RoomModerator.objects.filter(host=host).count() == 20
    assert not RoomModerator.objects.filter(moderator=extra).exists()


@pytest.mark.django_db(transaction=True)
@override_settings(LIVE_ROOM_MODERATORS_MAX=3)
def test_concurrent_appointments_never_pass_the_limit(race):
    # given a host one short of the limit
    host = UserFactory()
    for user in UserFactory.create_batch(2):
        appoint(host, user)
    candidates = UserFactory.create_batch(4)

    # when four appointments arrive at once
    results = race([lambda u=u: services.room_moderator_add(host=host, user_id=u.pk) for u in candidates])

    # then exactly one passes
    assert sum(isinstance(r, tuple) for r in results) == 1, results
    assert RoomModerator.objects.filter(host=host).count() == 3


@pytest.mark.django_db
def test_bad_appointments_get_clear_errors(auth_client):
    host, blocked = UserFactory(), UserFactory()
    block_create(blocker=host, blocked=blocked)
    client = auth_client(host)

    myself = client.post(URL, {"user_id": host.pk}, format="json")
    unknown = client.post(URL, {"user_id": 10**9}, format="json")
    refused = client.post(URL, {"user_id": blocked.pk}, format="json")
    malformed = client.post(URL, {"user_id": "x", "extra": 1}, format="json")
    not_one = client.delete(f"{URL}{blocked.pk}/")

    assert (myself.status_code, myself.json()["code"]) == (400, "room_moderator_invalid")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert (refused.status_code, refused.json()["code"]) == (403, "user_blocked")
    assert malformed.status_code == 400
    assert (not_one.status_code, not_one.json()["code"]) == (404, "not_found")
    assert not RoomModerator.objects.exists()


@pytest.mark.django_db
def test_anonymous_cannot_list_or_appoint(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"user_id": 1}, format="json").status_code == 401


@pytest.mark.django_db
def test_a_moderator_cannot_appoint_or_remove_moderators_of_their_host(auth_client):
    # given host A with moderators M and N
    host, mod, other_mod, outsider = UserFactory(), UserFactory(), UserFactory(), UserFactory()
    appoint(host, mod)
    appoint(host, other_mod)
    stream = LiveStreamFactory(host=host)
    client = auth_client(mod)

    # when M "appoints" an outsider and "removes" N: the API only ever acts on M's own rooms
    client.post(URL, {"user_id": outsider.pk}, format="json")
    removed = client.delete(f"{URL}{other_mod.pk}/")

    # then A's moderators are unchanged: the outsider moderates nothing of A's, N still moderates A's rooms
    assert not selectors.stream_moderator_is(stream_id=stream.pk, user_id=outsider.pk)
    assert removed.status_code == 404
    assert set(RoomModerator.objects.filter(host=host).values_list("moderator_id", flat=True)) == {mod.pk, other_mod.pk}
    # and A's list is A's alone
    assert [r["user"]["id"] for r in client.get(URL).json()["results"]] == [outsider.pk]


# --- Acting in the room (services) ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_moderator_mutes_unmutes_and_kicks_and_each_action_is_audited():
    # given host A's live stream, a moderator of A and a viewer
    stream = LiveStreamFactory()
    mod, viewer = UserFactory(), UserFactory()
    appoint(stream.host, mod)

    # when the moderator mutes, unmutes, then kicks the viewer
    services.stream_viewer_mute(stream_id=stream.pk, user_id=viewer.pk, by=mod, minutes=5)
    assert StreamMute.objects.filter(stream=stream, user=viewer).exists()
    services.stream_viewer_unmute(stream_id=stream.pk, user_id=viewer.pk, by=mod)
    services.stream_viewer_kick(stream_id=stream.pk, user_id=viewer.pk, by=mod, reason="spam links")

    # then the kick holds and the audit log has the three actions by the moderator in that stream
    assert StreamKick.objects.get(stream=stream, user=viewer).kicked_by == mod
    lines = ModerationAction.objects.filter(actor=mod).order_by("pk")
    assert [(line.action, line.target_user_id, line.stream_id) for line in lines] == [
        ("room_mute", viewer.pk, stream.pk),
        ("room_unmute", viewer.pk, stream.pk),
        ("room_kick", viewer.pk, stream.pk),
    ]
    assert lines[2].reason == "spam links"


@pytest.mark.django_db
def test_the_hosts_own_actions_are_not_moderator_audit_lines():
    stream, viewer = LiveStreamFactory(), UserFactory()
    services.stream_viewer_mute(stream_id=stream.pk, user_id=viewer.pk, by=stream.host)
    assert not ModerationAction.objects.exists()


@pytest.mark.django_db
def test_a_viewer_cannot_act_as_a_moderator():
    stream, viewer, target = LiveStreamFactory(), UserFactory(), UserFactory()
    message = chat(target)
    for act in (
        lambda: services.stream_viewer_mute(stream_id=stream.pk, user_id=target.pk, by=viewer),
        lambda: services.stream_viewer_unmute(stream_id=stream.pk, user_id=target.pk, by=viewer),
        lambda: services.stream_viewer_kick(stream_id=stream.pk, user_id=target.pk, by=viewer),
        lambda: services.stream_message_pin(stream_id=stream.pk, by=viewer, message=message),
        lambda: services.stream_message_delete(
            stream_id=stream.pk, by=viewer, message_id=message["id"], message=message
        ),
    ):
        with pytest.raises(NotRoomModerator):
            act()
    stream.refresh_from_db()
    assert stream.pinned_message is None
    assert not StreamMute.objects.exists() and not StreamKick.objects.exists()
    assert not ModerationAction.objects.exists()


@pytest.mark.django_db
def test_a_moderator_of_host_a_cannot_act_in_host_bs_room():
    stream_a, stream_b = LiveStreamFactory(), LiveStreamFactory()
    mod, viewer = UserFactory(), UserFactory()
    appoint(stream_a.host, mod)
    with pytest.raises(NotRoomModerator):
        services.stream_viewer_mute(stream_id=stream_b.pk, user_id=viewer.pk, by=mod)
    with pytest.raises(NotRoomModerator):
        services.stream_viewer_kick(stream_id=stream_b.pk, user_id=viewer.pk, by=mod)
    assert not StreamMute.objects.exists() and not StreamKick.objects.exists()


@pytest.mark.django_db
def test_a_moderator_cannot_act_on_the_host_or_another_moderator():
    stream = LiveStreamFactory()
    mod, other_mod = UserFactory(), UserFactory()
    appoint(stream.host, mod)
    appoint(stream.host, other_mod)

    with pytest.raises(NotRoomModerator) as on_moderator:
        services.stream_viewer_kick(stream_id=stream.pk, user_id=other_mod.pk, by=mod)
    with pytest.raises(NotStreamHost):
        services.stream_viewer_mute(stream_id=stream.pk, user_id=stream.host_id, by=mod)
    with pytest.raises(NotRoomModerator) as hosts_message:
        services.stream_message_delete(
            stream_id=stream.pk, by=mod, message_id="h1", message=chat(stream.host, message_id="h1")
        )

    assert on_moderator.value.details == {"reason": "target_is_moderator"}
    assert hosts_message.value.details == {"reason": "target_is_host"}
    # while the host may act on their moderators
    services.stream_viewer_mute(stream_id=stream.pk, user_id=other_mod.pk, by=stream.host)
    assert StreamMute.objects.filter(user=other_mod).exists()


@pytest.mark.django_db
def test_removal_takes_effect_at_once():
    stream, mod, viewer = LiveStreamFactory(), UserFactory(), UserFactory()
    appoint(stream.host, mod)
    services.room_moderator_remove(host=stream.host, user_id=mod.pk)
    with pytest.raises(NotRoomModerator):
        services.stream_viewer_mute(stream_id=stream.pk, user_id=viewer.pk, by=mod)


@pytest.mark.django_db(transaction=True)
def test_a_moderator_pins_and_deletes_a_message_the_pin_goes_with_it(room_listener):
    # given a moderator of the host and a viewer's pinned message
    stream = LiveStreamFactory()
    mod, viewer = UserFactory(), UserFactory()
    appoint(stream.host, mod)
    listener = room_listener(stream_group_name(stream.pk))
    message = chat(viewer, text="buy followers at spam.example")
    services.stream_message_pin(stream_id=stream.pk, by=mod, message=message)

    # when the moderator deletes it
    services.stream_message_delete(stream_id=stream.pk, by=mod, message_id=message["id"], message=message)

    # then the room heard pinned, unpinned, deleted in that order, and the stream has no pin
    heard = [(kind, payload) for _, kind, payload in listener.heard()]
    assert [kind for kind, _ in heard] == ["chat.pinned", "chat.unpinned", "chat.deleted"]
    assert heard[2][1] == {"message_id": message["id"], "user_id": viewer.pk, "by": mod.pk}
    assert Stream.objects.get(pk=stream.pk).pinned_message is None
    # and the audit log keeps what was deleted
    deleted = ModerationAction.objects.get(action="chat_delete")
    assert deleted.actor_id == mod.pk and deleted.target_user_id == viewer.pk and deleted.stream_id == stream.pk
    assert deleted.details == {"message_id": message["id"], "text": "buy followers at spam.example"}
    assert ModerationAction.objects.filter(action="chat_pin", actor=mod).exists()


# --- In the room (a real daphne, the Redis layer) ----------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_in_the_room_a_moderator_mutes_pins_deletes_and_kicks_and_a_viewer_cannot(daphne_server):
    # given host A live with a moderator, two viewers, and host B live with a room of their own
    stream, other = LiveStreamFactory(), LiveStreamFactory()
    mod, viewer, late = UserFactory(), UserFactory(), UserFactory()
    appoint(stream.host, mod)

    async def scenario():
        h = await join(daphne_server, stream, stream.host)
        m = await join(daphne_server, stream, mod)
        v = await join(daphne_server, stream, viewer)
        assert m.welcome["you"]["role"] == "moderator" and v.welcome["you"]["role"] == "viewer"

        # a viewer trying the moderator frames is refused, and nothing reaches anyone
        await v.send("moderator.kick", {"user_id": mod.pk}, ref="k1")
        refused = await v.next("error")
        assert refused["payload"]["code"] == "not_room_moderator" and refused["payload"]["ref"] == "k1"

        # the viewer chats; the moderator pins it, then deletes it
        await v.send("chat.send", {"text": "follow me for free coins"})
        message = (await m.next("chat.message"))["payload"]
        await m.send("moderator.pin", {"message_id": message["id"]})
        assert (await h.next("chat.pinned"))["payload"]["message"]["id"] == message["id"]
        await m.send("moderator.delete", {"message_id": message["id"]})
        deleted = await h.next("chat.deleted")
        assert deleted["payload"] == {"message_id": message["id"], "user_id": viewer.pk, "by": mod.pk}
        assert any(e["type"] == "chat.unpinned" for e in h.seen)
        # a late joiner never sees the deleted message
        c = await join(daphne_server, stream, late)
        assert message["id"] not in [item["id"] for item in c.welcome["history"]]
        assert c.welcome["stream"]["pinned"] is None

        # the moderator's own messages carry their role
        await m.send("chat.send", {"text": "please keep it friendly"})
        assert (await h.next("chat.message"))["payload"]["user"]["role"] == "moderator"

        # the moderator mutes the viewer: their chat is refused
        await m.send("moderator.mute", {"user_id": viewer.pk, "minutes": 10})
        assert (await v.next("chat.muted"))["payload"]["user_id"] == viewer.pk
        await v.send("chat.send", {"text": "hello?"})
        assert (await v.next("error"))["payload"]["code"] == "chat_refused"

        # the moderator kicks the viewer: their socket closes with 4003
        await m.send("moderator.kick", {"user_id": viewer.pk, "reason": "spam"})
        assert (await v.next("session.closed"))["payload"]["reason"] == "kicked"
        assert await v.close_code() == 4003

        # in host B's room the same moderator is refused
        b = await join(daphne_server, other, mod)
        assert b.welcome["you"]["role"] == "viewer"
        await b.send("moderator.mute", {"user_id": late.pk})
        assert (await b.next("error"))["payload"]["code"] == "not_room_moderator"
        for room in (h, m, c, b):
            await room.close()

    run_scenario(scenario)
    actions = list(ModerationAction.objects.filter(actor=mod).order_by("pk").values_list("action", "stream_id"))
    assert actions == [
        ("chat_pin", stream.pk),
        ("chat_delete", stream.pk),
        ("room_mute", stream.pk),
        ("room_kick", stream.pk),
    ]
    assert not StreamMute.objects.filter(stream=other).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_appointment_reaches_an_open_socket_and_a_removal_ends_its_powers(daphne_server):
    # given a viewer already in the host's room
    stream, user, target = LiveStreamFactory(), UserFactory(), UserFactory()

    async def scenario():
        h = await join(daphne_server, stream, stream.host)
        u = await join(daphne_server, stream, user)

        # when the host appoints them
        await in_thread(services.room_moderator_add, host=stream.host, user_id=user.pk)

        # then the room hears it and their next message carries the moderator role
        added = await u.next("room.moderator_added")
        assert added["payload"]["user"]["id"] == user.pk
        await u.send("chat.send", {"text": "I moderate here now"})
        assert (await h.next("chat.message"))["payload"]["user"]["role"] == "moderator"

        # when the host removes them, their next moderator frame is refused at once
        await in_thread(services.room_moderator_remove, host=stream.host, user_id=user.pk)
        await u.next("room.moderator_removed")
        await u.send("moderator.mute", {"user_id": target.pk})
        assert (await u.next("error"))["payload"]["code"] == "not_room_moderator"
        await u.send("chat.send", {"text": "back to watching"})
        assert (await h.next("chat.message"))["payload"]["user"]["role"] == "viewer"
        for room in (h, u):
            await room.close()

    run_scenario(scenario)
    assert not StreamMute.objects.exists()


@pytest.mark.django_db
def test_staff_see_appointments_in_the_admin_but_cannot_edit_them(admin_client):
    host, mod = UserFactory(username="hosthari"), UserFactory(username="modgita")
    appoint(host, mod)
    page = admin_client.get("/admin/live/roommoderator/")
    assert page.status_code == 200
    assert "hosthari" in page.content.decode() and "modgita" in page.content.decode()
    assert admin_client.get("/admin/live/roommoderator/add/").status_code == 403
