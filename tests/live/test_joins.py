"""Fast room joins (apps.live.room_join): one Redis round trip and no SQL once the user's card and the
stream's facts are cached, and every refusal still holds when they are.

Most scenarios run against a real daphne process, so the facts it cached are forgotten across
processes by the services the test calls, as in production.
"""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.services import (
    block_create,
    block_delete,
    tokens_issue,
    user_ban,
    user_logout,
    user_update_profile,
)
from apps.core.cache import cache_key_stored
from apps.live import room_join as room_join_module
from apps.live.linkcast import linkcast_accept, linkcast_invite
from apps.live.room_join import FACTS_KEY, FACTS_VERSION_KEY, stream_facts_forget
from apps.live.services import (
    room_moderator_add,
    room_moderator_remove,
    stream_chat_settings_set,
    stream_end,
    stream_message_pin,
    stream_viewer_kick,
)
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory
from tests.live.wsclient import Room, in_thread, run_scenario

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def signed_in(user) -> str:
    """An access token as a login issues it (the user's generation and card are cached too)."""
    return tokens_issue(user=user)["access"]


async def welcome(server, stream, access: str) -> dict:
    room = await Room.open(server.ws, stream.pk, access)
    first = await room.next()
    assert first["type"] == "room.welcome", first
    await room.close()
    return first["payload"]


async def refusal(server, stream, access: str) -> tuple[str, int | None]:
    room = await Room.open(server.ws, stream.pk, access)
    first = await room.next()
    assert first["type"] == "error", first
    return first["payload"]["code"], await room.close_code()


@pytest.fixture
def live(daphne_server):
    stream = LiveStreamFactory()
    return stream, stream.host, UserFactory()


def test_a_kicked_viewer_is_refused_although_the_room_was_cached(daphne_server, live):
    # given a viewer who joined once (the room's facts and their card are cached)
    stream, host, viewer = live
    access = signed_in(viewer)
    run_scenario(lambda: welcome(daphne_server, stream, access))

    # when the host kicks them
    stream_viewer_kick(stream_id=stream.pk, user_id=viewer.pk, by=host)

    # then their next connect is refused
    assert run_scenario(lambda: refusal(daphne_server, stream, access)) == ("kicked", 4003)


def test_a_blocked_viewer_is_refused_and_an_unblock_lets_them_back(daphne_server, live):
    stream, host, viewer = live
    access = signed_in(viewer)
    run_scenario(lambda: welcome(daphne_server, stream, access))

    # when the viewer blocks the host (either way counts), they are refused
    block_create(blocker=viewer, blocked=host)
    assert run_scenario(lambda: refusal(daphne_server, stream, access)) == ("user_blocked", 4003)

    # and once unblocked, they join again
    block_delete(blocker=viewer, blocked=host)
    assert run_scenario(lambda: welcome(daphne_server, stream, access))["you"]["id"] == viewer.pk


def test_a_banned_user_is_refused_even_with_a_token_of_the_new_generation(daphne_server, live):
    stream, _, viewer = live
    access = signed_in(viewer)
    run_scenario(lambda: welcome(daphne_server, stream, access))

    # when the viewer is banned
    user_ban(user=viewer, days=1, reason="spam")

    # then the token from before the ban is refused (its generation is old) ...
    assert run_scenario(lambda: refusal(daphne_server, stream, access)) == ("not_authenticated", 4001)
    # ... and so is one of the current generation: the account itself is banned
    fresh = AccessToken.for_user(viewer)
    fresh["gen"] = viewer.token_generation
    assert run_scenario(lambda: refusal(daphne_server, stream, str(fresh))) == ("not_authenticated", 4001)


def test_a_logged_out_token_is_refused(daphne_server, live):
    stream, _, viewer = live
    tokens = tokens_issue(user=viewer)
    run_scenario(lambda: welcome(daphne_server, stream, tokens["access"]))

    user_logout(user=viewer, refresh=tokens["refresh"], access=AccessToken(tokens["access"]))

    assert run_scenario(lambda: refusal(daphne_server, stream, tokens["access"])) == ("not_authenticated", 4001)


def test_a_stream_that_ended_is_refused(daphne_server, live):
    stream, _, viewer = live
    access = signed_in(viewer)
    run_scenario(lambda: welcome(daphne_server, stream, access))

    stream_end(stream_id=stream.pk, reason="done")

    assert run_scenario(lambda: refusal(daphne_server, stream, access)) == ("stream_not_live", 4004)


def test_changes_to_the_room_are_seen_by_the_next_connect(daphne_server, live):
    # given a room whose facts were cached by a first join
    stream, host, viewer = live
    access = signed_in(viewer)
    first = run_scenario(lambda: welcome(daphne_server, stream, access))
    assert first["stream"]["pinned"] is None and first["linkcast"] is None

    # when the host pins a message, turns on slow mode, renames themself and starts a LinkCast
    other = LiveStreamFactory()
    author = {**first["stream"]["host"], "role": "host"}
    message = {"id": "0123456789abcdef", "user": author, "text": "hello", "sent_at": "2026-01-01T00:00:00.000Z"}
    stream_message_pin(stream_id=stream.pk, by=host, message=message)
    stream_chat_settings_set(stream_id=stream.pk, by=host, mode="everyone", slow_mode_seconds=7)
    user_update_profile(user=host, data={"display_name": "Renamed host"})
    linkcast = linkcast_invite(user=host, guest_stream_id=other.pk)
    linkcast_accept(linkcast_id=linkcast.pk, user=other.host)

    # then the next connect sees all of it
    second = run_scenario(lambda: welcome(daphne_server, stream, access))
    assert second["stream"]["pinned"]["text"] == "hello"
    assert second["stream"]["slow_mode_seconds"] == 7
    assert second["stream"]["host"]["display_name"] == "Renamed host"
    assert second["linkcast"]["id"] == linkcast.pk and second["linkcast"]["status"] == "active"

    # and a renamed viewer sees their own new name
    user_update_profile(user=viewer, data={"display_name": "New me"})
    assert run_scenario(lambda: welcome(daphne_server, stream, access))["you"]["display_name"] == "New me"


def test_an_appointment_and_a_dismissal_are_seen_by_the_next_connect(daphne_server, live):
    # given a viewer who joined once as a viewer (the room's facts are cached)
    stream, host, viewer = live
    access = signed_in(viewer)
    assert run_scenario(lambda: welcome(daphne_server, stream, access))["you"]["role"] == "viewer"

    # when the host appoints them a room moderator, their next connect says so
    room_moderator_add(host=host, user_id=viewer.pk)
    assert run_scenario(lambda: welcome(daphne_server, stream, access))["you"]["role"] == "moderator"

    # and when the host dismisses them, they are a viewer again
    room_moderator_remove(host=host, user_id=viewer.pk)
    assert run_scenario(lambda: welcome(daphne_server, stream, access))["you"]["role"] == "viewer"


def test_a_fill_that_raced_a_change_does_not_store_the_old_facts(live):
    # given the version of the room's facts a join saw before reading the rows
    stream, host, viewer = live
    version_key = cache_key_stored(FACTS_VERSION_KEY.format(stream_id=stream.pk))
    facts_key = cache_key_stored(FACTS_KEY.format(stream_id=stream.pk))

    async def fill_after_a_change() -> bool:
        client = room_join_module._client()
        seen = await client.get(version_key)
        await in_thread(stream_facts_forget, stream_ids=[stream.pk])  # a kick committed meanwhile
        await room_join_module._facts_fill(stream.pk, seen)
        stored = bool(await client.exists(facts_key))
        await client.aclose()
        return stored

    # when the join stores what it read, then nothing was stored: the next join reads the rows again
    assert async_to_sync(fill_after_a_change)() is False

    async def fill_unchanged() -> bool:
        client = room_join_module._client()
        await room_join_module._facts_fill(stream.pk, await client.get(version_key))
        stored = bool(await client.exists(facts_key))
        await client.aclose()
        return stored

    # while a fill with nothing in between is kept
    assert async_to_sync(fill_unchanged)() is True


def test_a_join_with_the_cache_warm_runs_no_sql(live, django_db_blocker):
    # given a signed-in viewer and a room someone joined already (the facts are cached)
    from halobuzz.asgi import application

    stream, _, viewer = live
    first_viewer = UserFactory()
    warm, access = signed_in(first_viewer), signed_in(viewer)

    async def join(token: str) -> dict:
        communicator = WebsocketCommunicator(application, f"/ws/streams/{stream.pk}/?token={token}")
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        frame = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        await asyncio.sleep(0.05)  # the presence removal runs after the socket closed
        return frame

    assert async_to_sync(join)(warm)["type"] == "room.welcome"

    # when the viewer joins with no database to reach in any thread (and queries counted here)
    with CaptureQueriesContext(connection) as queries, django_db_blocker.block():
        frame = async_to_sync(join)(access)

    # then they are welcomed, and no query ran
    assert frame["type"] == "room.welcome", json.dumps(frame)
    assert frame["payload"]["you"]["id"] == viewer.pk
    assert len(queries) == 0
