"""Room frames framed once per write round and written to every socket as the same bytes.

Under daphne an application's `send` is `functools.partial(server.handle_reply, protocol)`: each frame
to each socket goes through that coroutine, daphne's checks, a UTF-8 encode and autobahn's framing, so
a round to 5,000 viewers builds the same bytes 5,000 times. autobahn's broadcast API does the framing
once (`prepareMessage`) and writes the result (`sendPreparedMessage`). A socket whose protocol is not
reachable that way (another ASGI server, the test communicator) keeps the ordinary `send`.
"""

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any


def wire_protocol(send: Callable[..., Any] | None) -> Any | None:
    """The autobahn protocol behind daphne's `send` for one connection, or None when `send` is not
    daphne's (the frames then go through `send`)."""
    if not isinstance(send, partial) or len(send.args) != 1:
        return None
    protocol = send.args[0]
    if callable(getattr(protocol, "sendPreparedMessage", None)) and hasattr(protocol, "factory"):
        return protocol
    return None


def frames_prepare(protocol: Any, frames: Sequence[dict[str, Any]]) -> list[Any] | None:
    """The frames as autobahn prepared messages (None when one is not a text frame)."""
    if not all(frame.get("type") == "websocket.send" and isinstance(frame.get("text"), str) for frame in frames):
        return None
    return [protocol.factory.prepareMessage(frame["text"].encode()) for frame in frames]


def wire_write(protocol: Any, prepared: Sequence[Any]) -> None:
    """Write prepared frames to one socket; nothing to a socket that is not open (closing, closed),
    as daphne's own send would not write either."""
    if protocol.state != protocol.STATE_OPEN:
        return
    for message in prepared:
        protocol.sendPreparedMessage(message)
