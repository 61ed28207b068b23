"""A room socket's language: the user's saved preference, else the handshake's Accept-Language, else
a `lang` query parameter; the error codes stay the same (real daphne, Redis and PostgreSQL)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from websockets.asyncio.client import connect

from apps.live.models import StreamMute
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory
from tests.live.test_rooms import token
from tests.live.wsclient import Room, run_scenario

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MUTED_EN = "The host muted you in this room."
MUTED_NE = "होस्टले तपाईंलाई यो कोठामा म्युट गर्नुभएको छ।"


async def join(server, stream, user, *, accept_language: str | None = None, lang: str | None = None) -> Room:
    url = f"{server.ws}/ws/streams/{stream.pk}/?token={token(user)}" + (f"&lang={lang}" if lang else "")
    headers = {"Accept-Language": accept_language} if accept_language else None
    room = Room(await connect(url, additional_headers=headers, open_timeout=10))
    assert (await room.next())["type"] == "room.welcome"
    return room


def test_chat_refused_comes_in_the_sockets_language(daphne_server):
    # given a live stream whose host muted five viewers for ten minutes
    stream = LiveStreamFactory()
    by_header, by_query, by_profile, by_profile_over_header, by_default = (
        UserFactory(),
        UserFactory(),
        UserFactory(language="ne"),
        UserFactory(language="ne"),
        UserFactory(),
    )
    until = timezone.now() + timedelta(minutes=10)
    for user in (by_header, by_query, by_profile, by_profile_over_header, by_default):
        StreamMute.objects.create(stream=stream, user=user, muted_until=until)

    async def refused(room: Room) -> dict:
        await room.send("chat.send", {"text": "namaste"})
        return (await room.next("error"))["payload"]

    async def scenario():
        rooms = [
            await join(daphne_server, stream, by_header, accept_language="ne-NP,ne;q=0.9,en;q=0.8"),
            await join(daphne_server, stream, by_query, lang="ne"),
            await join(daphne_server, stream, by_profile),
            await join(daphne_server, stream, by_profile_over_header, accept_language="en-US,en;q=0.9"),
            await join(daphne_server, stream, by_default),
        ]
        answers = [await refused(room) for room in rooms]
        for room in rooms:
            await room.close()
        return answers

    # when each chats, then each is refused in its socket's language, with the same code and details
    answers = run_scenario(scenario)
    assert [a["message"] for a in answers] == [MUTED_NE, MUTED_NE, MUTED_NE, MUTED_NE, MUTED_EN]
    assert {a["code"] for a in answers} == {"chat_refused"}
    assert len({a["details"]["muted_until"] for a in answers}) == 1


def test_a_refused_handshake_is_explained_in_the_requested_language(daphne_server):
    # an unknown stream: the error before the close is in Nepali, its code unchanged
    user = UserFactory()

    async def scenario():
        url = f"{daphne_server.ws}/ws/streams/999999/?token={token(user)}&lang=ne"
        room = Room(await connect(url, open_timeout=10))
        error = await room.next("error")
        return error["payload"], await room.close_code()

    payload, code = run_scenario(scenario)
    assert payload["code"] == "not_found" and payload["message"] == "यस्तो स्ट्रिम छैन।" and code == 4004
