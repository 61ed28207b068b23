"""A tuning of autobahn (daphne's WebSocket engine) for busy rooms; halobuzz/asgi.py applies it.

autobahn is pinned (requirements/base.txt) because this reaches into its internals: on an upgrade,
tests/core/test_asgi.py fails until the patch is checked against the new version (and re-measured).
"""

import pprint
from typing import Any


class AutobahnChanged(RuntimeError):
    """autobahn no longer formats log values the way the patch expects: it would silently do nothing."""


def _unformatted(value: Any, *args: Any, **kwargs: Any) -> Any:
    return value


class _PrettyWhenShown:
    """pprint.pformat(value), computed only if a log line is ever written with it."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return pprint.pformat(self.value)

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _timings_str(self: Any) -> str:  # autobahn's Timings.__str__, without the module's pformat
    return pprint.pformat(self._timings)


def autobahn_plain_log_values() -> bool:
    """Stop autobahn colouring the values of a debug log line for every frame it sends, and
    pretty-printing its settings for one on every connection.

    WebSocketProtocol.sendData formats its values (hltype/hlval: click.style) before finding that
    nobody logs at debug level (daphne discards Twisted's log): ~15% of daphne's CPU in a busy room.
    The values are handed over unformatted instead; a debug log, if ever enabled, still prints them.

    Returns False when autobahn is not installed (another ASGI server), True once applied; raises
    AutobahnChanged when autobahn no longer has those helpers or sendData no longer calls them.
    """
    try:
        import autobahn.websocket.protocol as ws_protocol
    except ImportError:
        return False
    send_data = getattr(getattr(ws_protocol, "WebSocketProtocol", None), "sendData", None)
    called = set(getattr(getattr(send_data, "__code__", None), "co_names", ()))
    missing = {"hltype", "hlval"} - (called & set(vars(ws_protocol)))
    if missing:
        raise AutobahnChanged(
            f"autobahn.websocket.protocol: WebSocketProtocol.sendData no longer formats with {sorted(missing)}; "
            "check halobuzz/autobahn_tuning.py against this autobahn version"
        )
    # Every new connection also pretty-printed its ~30 settings for a debug line (_connectionMade): ~1/6
    # of a daphne's CPU while viewers pour into a room. The line now formats them when it is written.
    connection_made = getattr(getattr(ws_protocol, "WebSocketProtocol", None), "_connectionMade", None)
    if "pformat" not in vars(ws_protocol) or "pformat" not in getattr(
        getattr(connection_made, "__code__", None), "co_names", ()
    ):
        raise AutobahnChanged(
            "autobahn.websocket.protocol: WebSocketProtocol._connectionMade no longer pretty-prints with pformat; "
            "check halobuzz/autobahn_tuning.py against this autobahn version"
        )
    ws_protocol.hltype = _unformatted  # type: ignore[assignment]  # autobahn's formatter, replaced
    ws_protocol.hlval = _unformatted  # type: ignore[assignment]
    ws_protocol.pformat = _PrettyWhenShown  # type: ignore[assignment]
    ws_protocol.Timings.__str__ = _timings_str  # type: ignore[method-assign]  # its one other pformat
    return True
