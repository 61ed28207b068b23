"""The ASGI entry point tunes autobahn (daphne's WebSocket engine); the tuning checks autobahn first."""

import pprint
import re
from pathlib import Path

import autobahn
import autobahn.websocket.protocol as ws_protocol
import pytest

from halobuzz.autobahn_tuning import AutobahnChanged, autobahn_plain_log_values

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements" / "base.txt"


def test_the_asgi_application_applies_the_patch():
    # given the process daphne runs: the ASGI module imported
    import halobuzz.asgi  # noqa: F401

    # then autobahn's sendData hands its log values over unformatted
    marker = object()
    assert ws_protocol.hltype(marker) is marker
    assert ws_protocol.hlval(marker, color="green") is marker
    # and a new connection's settings are pretty-printed only when a debug line shows them
    attrs = [("openHandshakeTimeout", 5, "WebSocketServerFactory")]
    shown = ws_protocol.pformat(attrs)
    assert not isinstance(shown, str)
    assert f"\n{shown}" == "\n" + pprint.pformat(attrs)  # as txaio formats the line, when it does
    timings = ws_protocol.Timings()
    timings.track("onOpen")
    assert str(timings).startswith("{'onOpen':")


def test_the_patch_fails_loudly_when_connection_made_stops_pretty_printing(monkeypatch):
    # given an autobahn whose _connectionMade no longer calls pformat
    def connection_made(self):
        return None

    monkeypatch.setattr(ws_protocol.WebSocketProtocol, "_connectionMade", connection_made)
    # when the patch is applied, then it refuses
    with pytest.raises(AutobahnChanged, match="pformat"):
        autobahn_plain_log_values()


def test_the_patch_fails_loudly_when_autobahn_drops_a_helper(monkeypatch):
    # given an autobahn whose protocol module no longer has hlval
    monkeypatch.delattr(ws_protocol, "hlval")
    # when the patch is applied, then it says so instead of silently adding an unused name
    with pytest.raises(AutobahnChanged, match="hlval"):
        autobahn_plain_log_values()
    assert not hasattr(ws_protocol, "hlval")


def test_the_patch_fails_loudly_when_send_data_stops_using_the_helpers(monkeypatch):
    # given an autobahn whose sendData formats its log line some other way
    def send_data(self, data, sync=False, chopsize=None):
        return None

    monkeypatch.setattr(ws_protocol.WebSocketProtocol, "sendData", send_data)
    # when the patch is applied, then it refuses
    with pytest.raises(AutobahnChanged, match="hltype"):
        autobahn_plain_log_values()


def test_autobahn_is_pinned_to_the_version_the_patch_was_checked_against():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", REQUIREMENTS.read_text(), flags=re.MULTILINE))
    assert pins.get("autobahn") == autobahn.__version__
