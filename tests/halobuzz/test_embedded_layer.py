"""halobuzz.embedded_layer: the room server takes group messages from the checkout's other processes.

The whole path (a worker's task -> daphne -> a room socket) runs in tests/e2e/test_embedded.py;
here the relay endpoint's checks and the sending side's failures, in one process.
"""

import asyncio
import json
import socket
import stat

import pytest
from asgiref.testing import ApplicationCommunicator

from halobuzz.embedded_layer import RELAY_PATH, EmbeddedChannelLayer, RelayFailed, relay_app


def make_layer(tmp_path, url: str = "http://127.0.0.1:9") -> EmbeddedChannelLayer:
    return EmbeddedChannelLayer(server_url=url, token_path=str(tmp_path / "room-server.token"))


async def django_stand_in(scope, receive, send):
    """What sits behind the relay: answers 299 so the tests see a request went past it."""
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"django"})


async def request(app, *, method="POST", path=RELAY_PATH, body=b"", token=None, client=("127.0.0.1", 50000)):
    headers = [(b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {"type": "http", "method": method, "path": path, "headers": headers, "client": client, "query_string": b""}
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(5)
    answer = await communicator.receive_output(5)
    await communicator.wait(5)
    return start["status"], answer["body"]


async def member_of(layer: EmbeddedChannelLayer, group: str) -> str:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


def message(n: int = 1) -> dict:
    return {"type": "room.event", "event": {"type": "pk.ended", "payload": {"n": n}}}


RELAYED = json.dumps({"group": "stream_7", "message": message()}).encode()
SERVER_TOKEN = object()  # the one the room server wrote


def relay_to_a_room(tmp_path, *, body: bytes = RELAYED, token=SERVER_TOKEN, client=("127.0.0.1", 50000)):
    """Given the room server's layer with a socket in stream_7's group, when `body` is posted to the
    relay: (status, answer, what the socket received or None)."""
    layer = make_layer(tmp_path)
    layer.serve()

    async def scenario():
        channel = await member_of(layer, "stream_7")
        status, answer = await request(
            relay_app(layer, django_stand_in),
            body=body,
            token=(tmp_path / "room-server.token").read_text() if token is SERVER_TOKEN else token,
            client=client,
        )
        try:
            received = await asyncio.wait_for(layer.receive(channel), 1)
        except TimeoutError:
            received = None
        return status, json.loads(answer), received

    return asyncio.run(scenario())


def test_the_room_server_delivers_a_relayed_message_to_its_room(tmp_path):
    assert relay_to_a_room(tmp_path) == (202, {"status": "accepted"}, message())


def test_the_token_is_readable_by_the_owner_only_and_leaves_with_its_server(tmp_path):
    layer = make_layer(tmp_path)
    layer.serve()
    token_file = tmp_path / "room-server.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and token_file.read_text() == layer.token

    # a newer server's token is not removed by an older one stopping
    newer = make_layer(tmp_path)
    newer.serve()
    layer.stop_serving()
    assert token_file.read_text() == newer.token
    newer.stop_serving()
    assert not token_file.exists()


@pytest.mark.parametrize(
    ("token", "client"),
    [(None, ("127.0.0.1", 5)), ("wrong", ("127.0.0.1", 5)), (SERVER_TOKEN, ("192.0.2.10", 5)), (SERVER_TOKEN, None)],
    ids=["no token", "wrong token", "not loopback", "no client address"],
)
def test_only_the_checkouts_processes_on_loopback_may_relay(tmp_path, token, client):
    status, answer, received = relay_to_a_room(tmp_path, token=token, client=client)
    assert (status, answer["code"], set(answer), received) == (
        403,
        "permission_denied",
        {"code", "message", "details"},
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"message": message()}).encode(),
        json.dumps({"group": "stream 7!", "message": message()}).encode(),
        json.dumps({"group": "stream_7", "message": "hello"}).encode(),
        json.dumps({"group": "stream_7", "message": {"event": {}}}).encode(),
    ],
    ids=["not json", "not an object", "no group", "bad group name", "message not an object", "message without type"],
)
def test_a_malformed_relay_is_a_400_and_reaches_nobody(tmp_path, body):
    status, answer, received = relay_to_a_room(tmp_path, body=body)
    assert (status, answer["code"], set(answer), received) == (400, "invalid", {"code", "message", "details"}, None)


def test_only_a_post_to_the_relay_path_is_the_relays(tmp_path):
    layer = make_layer(tmp_path)
    layer.serve()
    app = relay_app(layer, django_stand_in)

    async def scenario():
        assert (await request(app, method="GET", token=layer.token))[0] == 405
        assert await request(app, method="GET", path="/healthz") == (299, b"django")
        assert await request(app, path="/api/v1/gifts/send/", token=layer.token) == (299, b"django")

    asyncio.run(scenario())


def test_a_process_that_serves_no_rooms_drops_messages_while_no_room_server_runs(tmp_path):
    # given a worker's layer and no room server (no token written: seed_demo before the demo's daphne)
    layer = make_layer(tmp_path)

    async def scenario():
        # when a task announces something; then nothing fails and nothing is kept locally either
        channel = await member_of(layer, "stream_7")
        await layer.group_send("stream_7", message())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.5)

    asyncio.run(scenario())


def test_a_room_server_that_went_away_is_an_error_the_sender_logs(tmp_path):
    # given the token of a room server that is no longer listening
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    make_layer(tmp_path).serve()
    layer = make_layer(tmp_path, url=f"http://127.0.0.1:{closed_port}")

    # when a worker's task sends; then it fails loudly (events.group_send_on_commit logs it)
    with pytest.raises(RelayFailed, match="unreachable"):
        asyncio.run(layer.group_send("stream_7", message()))
    with pytest.raises(TypeError):
        asyncio.run(layer.group_send("not a valid group!", message()))
