"""A tuning of autobahn (daphne's WebSocket engine) for busy rooms; halobuzz/asgi.py applies it.

autobahn is pinned (requirements/base.txt) because this reaches into its internals: on an upgrade,
tests/core/test_asgi.py fails until the patch is checked against the new version (and re-measured).
"""

from typing import Any


class AutobahnChanged(RuntimeError):
    """autobahn no longer formats log values the way the patch expects: it would silently do nothing."""


def _unformatted(value: Any, *args: Any, **kwargs: Any) -> Any:
    return value


def autobahn_plain_log_values() -> bool:
    """Stop autobahn colouring the values of a debug log line for every frame it sends.

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
    ws_protocol.hltype = _unformatted  # type: ignore[assignment]  # autobahn's formatter, replaced
    ws_protocol.hlval = _unformatted  # type: ignore[assignment]
    return True
