"""Write rounds frame once and write the same bytes to every daphne socket (apps.live.wire)."""

import asyncio
from functools import partial

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet.testing import StringTransport

from apps.core.middleware import SERVER_SEND, WebSocketMetricsMiddleware
from apps.live.fanout import _frames_to_all
from apps.live.wire import frames_prepare, wire_protocol, wire_write

TEXTS = ["{}", '{"type":"chat.message","payload":{"text":"नमस्ते"}}', "x" * 200, "y" * 70_000]


def open_protocol() -> tuple[WebSocketProtocol, StringTransport]:
    """daphne's WebSocket protocol on a transport that keeps what is written, after the handshake."""
    protocol = WebSocketProtocol()
    protocol.factory = WebSocketServerFactory()
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.state, protocol.client_addr = protocol.STATE_OPEN, ["127.0.0.1", 1]
    return protocol, transport


def frame(text: str) -> dict:
    return {"type": "websocket.send", "text": text}


def test_prepared_frames_are_the_bytes_daphne_would_write():
    # given one socket written through daphne and one through the prepared path
    daphne_socket, by_daphne = open_protocol()
    wire_socket, by_wire = open_protocol()
    frames = [frame(text) for text in TEXTS]  # short, 2-byte and 8-byte lengths, non-ASCII
    # when the same frames go out both ways
    for item in frames:
        daphne_socket.handle_reply(item)
    wire_write(wire_socket, frames_prepare(wire_socket, frames))
    # then the bytes on the wire are the same
    assert by_wire.value() == by_daphne.value() and len(by_wire.value()) > 70_000


def test_a_socket_that_is_not_open_gets_nothing():
    protocol, transport = open_protocol()
    protocol.state = protocol.STATE_CLOSING
    wire_write(protocol, frames_prepare(protocol, [frame("{}")]))
    assert transport.value() == b""


def test_only_text_frames_are_prepared():
    protocol, _ = open_protocol()
    assert frames_prepare(protocol, [frame("{}"), {"type": "websocket.send", "bytes": b"\x00"}]) is None


def test_the_protocol_is_found_behind_daphnes_send_only():
    protocol, _ = open_protocol()

    async def handle_reply(protocol, message):  # daphne's Server.handle_reply has this shape
        return None

    async def other_send(message):
        return None

    assert wire_protocol(partial(handle_reply, protocol)) is protocol
    assert wire_protocol(other_send) is None and wire_protocol(None) is None
    assert wire_protocol(partial(handle_reply, object())) is None


class Socket:
    def __init__(self, wire=None) -> None:
        self.backlog, self.wire, self.sent = None, wire, []

    async def base_send(self, message: dict) -> None:
        self.sent.append(message["text"])


def test_a_write_round_frames_once_and_still_serves_sockets_without_a_protocol(monkeypatch):
    # given two daphne sockets and one reachable only through its send
    (first, first_out), (second, second_out) = open_protocol(), open_protocol()
    plain = Socket()
    prepared_calls = []
    original = first.factory.prepareMessage
    monkeypatch.setattr(first.factory, "prepareMessage", lambda payload: prepared_calls.append(1) or original(payload))
    second.factory = first.factory
    # when a round of two frames is written
    frames = [frame(TEXTS[1]), frame(TEXTS[2])]
    asyncio.run(_frames_to_all((Socket(first), plain, Socket(second)), frames))
    # then each frame was framed once, both daphne sockets got the same bytes, the other its frames
    assert len(prepared_calls) == 2
    assert first_out.value() == second_out.value() != b""
    assert plain.sent == [TEXTS[1], TEXTS[2]]


def test_the_websocket_middleware_hands_the_servers_send_down_in_the_scope():
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    async def server_send(message):
        return None

    asyncio.run(WebSocketMetricsMiddleware(app)({"type": "websocket"}, None, server_send))
    assert seen[SERVER_SEND] is server_send


@pytest.mark.parametrize("text", TEXTS[:2])
def test_frames_prepare_encodes_utf8(text):
    protocol, transport = open_protocol()
    wire_write(protocol, frames_prepare(protocol, [frame(text)]))
    assert text.encode() in transport.value()
