"""Viewer counts after a room empties and fills again (the daphne fault's finding), against a real
daphne process, the Redis channel layer and PostgreSQL."""

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from tests.accounts.factories import UserFactory
from tests.live.conftest import daphne_env
from tests.live.factories import LiveStreamFactory
from tests.live.servers import Daphne
from tests.live.wsclient import Room, run_scenario

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def _join(server: Daphne, stream_id: int, user) -> tuple[Room, int]:
    room = await Room.open(server.ws, stream_id, str(AccessToken.for_user(user)))
    welcome = await room.next("room.welcome")
    return room, welcome["payload"]["viewers"]


def test_viewers_coming_back_to_an_emptied_room_hear_how_many_they_are():
    # given two viewers who watched a stream together, then both left (a crashed daphne, a network drop)
    stream = LiveStreamFactory()
    first, second = UserFactory(), UserFactory()
    with Daphne(daphne_env()) as server:

        async def scenario():
            a, _ = await _join(server, stream.pk, first)
            b, _ = await _join(server, stream.pk, second)
            await a.until("viewers.updated", lambda p: p["count"] == 2)
            await a.close()
            await b.close()

            # when they come back one after the other
            a, counted_by_first = await _join(server, stream.pk, first)
            b, counted_by_second = await _join(server, stream.pk, second)

            # then the first, welcomed as the only viewer, is told that there are two of them again
            assert (counted_by_first, counted_by_second) == (1, 2)
            await a.until("viewers.updated", lambda p: p["count"] == 2, timeout=5)
            await a.close()
            await b.close()

        run_scenario(scenario)
