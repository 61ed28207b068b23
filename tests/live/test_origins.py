"""Who may open a room socket, by the Origin header, under production settings with a real ALLOWED_HOSTS.

A browser always sends Origin: a page of another site is refused (it could be driving a visitor's
session), a page of ours is welcome. A native app sends none and proves itself with its token.
"""

import pytest
from websockets.exceptions import InvalidStatus

from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory
from tests.live.test_rooms import token
from tests.live.wsclient import Room, run_scenario

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

OURS = "https://api.halobuzz.test"


async def welcomed(server, stream_id: int, tok: str | None, **kw) -> bool:
    room = await Room.open(server.ws, stream_id, tok, **kw)
    try:
        return (await room.next())["type"] == "room.welcome"
    finally:
        await room.close()


async def refused_at_handshake(server, stream_id: int, tok: str | None, **kw) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await Room.open(server.ws, stream_id, tok, **kw)
    return refused.value.response.status_code


def test_native_clients_join_with_a_token_and_browsers_only_from_an_allowed_origin(start_daphne):
    # given daphne in production mode serving only api.halobuzz.test, a live stream and a viewer
    server = start_daphne(ALLOWED_HOSTS="api.halobuzz.test")
    stream = LiveStreamFactory()
    viewer = UserFactory()
    tok = token(viewer)

    async def scenario():
        # a native app: no Origin, the token in the query string or the subprotocol pair joins
        assert await welcomed(server, stream.pk, tok)
        assert await welcomed(server, stream.pk, tok, subprotocol=True)
        # a browser page of ours joins; a page of another site is refused, token or not
        assert await welcomed(server, stream.pk, tok, origin=OURS)
        assert await welcomed(server, stream.pk, tok, origin=OURS, subprotocol=True)
        assert await refused_at_handshake(server, stream.pk, tok, origin="https://evil.example") == 403
        assert (
            await refused_at_handshake(server, stream.pk, tok, origin="https://api.halobuzz.test.evil.example") == 403
        )
        # no Origin and no valid token: refused as before
        assert await refused_at_handshake(server, stream.pk, None) == 403
        assert await refused_at_handshake(server, stream.pk, "not-a-jwt") == 403

    run_scenario(scenario)
