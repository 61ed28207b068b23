"""The embedded default's channel layer: in memory inside the room server, relayed from elsewhere.

On the embedded default one daphne process holds every WebSocket, and its rooms listen on Channels'
in-memory layer. The Celery worker and beat are other processes: what their tasks announce (a PK
battle's end, a silent stream ended, a moderation cut or ban) must reach that daphne.

The process that serves the rooms (the one that loads halobuzz.asgi) delivers in its own memory and
accepts group messages from the others at `POST /_embedded/layer/` on loopback; every other process
of the checkout posts its group messages there, one request each, in the order they were sent.
A token known only to the server and readable only by the checkout's owner (written by the server
at start to EMBEDDED_DIR/room-server.token, mode 0600) authenticates them. No server to install, no
polling: a message costs one loopback request, and nothing is sent while nobody serves rooms.

Only group messages travel (channels are per-process names nobody outside daphne knows); with no
room server running (seed_demo before the demo starts daphne) there is nobody to tell and the
message is dropped.
"""

import asyncio
import atexit
import hmac
import ipaddress
import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import requests
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

RELAY_PATH = "/_embedded/layer/"
RELAY_MAX_BYTES = 1024 * 1024
RELAY_TIMEOUT_SECONDS = (2.0, 10.0)  # connect, read


class RelayFailed(Exception):
    """The room server did not take a relayed message."""


class EmbeddedChannelLayer(InMemoryChannelLayer):
    def __init__(self, *, server_url: str, token_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.relay_url = server_url.rstrip("/") + RELAY_PATH
        self.token_path = Path(token_path)
        self.token = ""  # set in the room server only

    @property
    def serving(self) -> bool:
        return bool(self.token)

    def serve(self) -> None:
        """This process holds the rooms: deliver here, and take what the other processes relay."""
        self.token = secrets.token_urlsafe(32)
        self.token_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.token_path.with_name(f".{self.token_path.name}.{os.getpid()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(self.token)
        partial.replace(self.token_path)

    def stop_serving(self) -> None:
        """Remove the token at exit, unless a newer server wrote its own since."""
        try:
            if self.token and self.token_path.read_text() == self.token:
                self.token_path.unlink()
        except FileNotFoundError:
            pass

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.serving:
            await super().group_send(group, message)
            return
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        await asyncio.to_thread(self._relay, group, message)

    def _relay(self, group: str, message: dict[str, Any]) -> None:
        try:
            token = self.token_path.read_text().strip()
        except FileNotFoundError:
            logger.debug("no room server running: %s message for %s dropped", message.get("type"), group)
            return
        try:
            response = requests.post(
                self.relay_url,
                json={"group": group, "message": message},
                headers={"Authorization": f"Bearer {token}"},
                timeout=RELAY_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise RelayFailed(f"room server at {self.relay_url} unreachable: {exc}") from exc
        if response.status_code != 202:
            raise RelayFailed(f"room server answered {response.status_code}: {response.text[:200]}")


def room_server_http(django_app):
    """The HTTP side of the room server: the relay endpoint in front of Django (embedded layer only).

    Anywhere else (production's Redis layers) Django is returned unchanged and nothing is listening."""
    layer = get_channel_layer()
    if not isinstance(layer, EmbeddedChannelLayer):
        return django_app
    layer.serve()
    atexit.register(layer.stop_serving)
    return relay_app(layer, django_app)


def relay_app(layer: EmbeddedChannelLayer, django_app):
    """ASGI: `POST /_embedded/layer/` hands a message to `layer`'s rooms; every other request goes to Django."""

    async def app(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == RELAY_PATH:
            status, body = await _relay_take(layer, scope, receive)
            await send(
                {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        await django_app(scope, receive, send)

    return app


def _error(status: int, code: str, message: str, details: dict | None = None) -> tuple[int, dict]:
    return status, {"code": code, "message": message, "details": details or {}}


def _is_loopback(scope) -> bool:
    client = scope.get("client")
    try:
        return bool(client) and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def _relay_take(layer: EmbeddedChannelLayer, scope, receive) -> tuple[int, dict]:
    """Check one relayed message and hand it to the local rooms (202), or say why not."""
    if scope["method"] != "POST":
        return _error(405, "method_not_allowed", "POST a group message.")
    headers = dict(scope["headers"])
    if not _is_loopback(scope) or not hmac.compare_digest(
        headers.get(b"authorization", b""), f"Bearer {layer.token}".encode()
    ):
        return _error(403, "permission_denied", "Only this checkout's processes relay to the rooms.")
    body = b""
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return _error(400, "invalid", "The request ended early.")
        body += event.get("body", b"")
        if len(body) > RELAY_MAX_BYTES:
            return _error(413, "too_large", f"At most {RELAY_MAX_BYTES} bytes.")
        if not event.get("more_body"):
            break
    try:
        data = json.loads(body)
        group, message = data["group"], data["message"]
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise TypeError("message must be an object with a string type")
        layer.require_valid_group_name(group)
    except (ValueError, KeyError, TypeError) as exc:
        return _error(400, "invalid", 'Send {"group": <name>, "message": {"type": ...}}.', {"error": str(exc)})
    await layer.group_send(group, message)
    return 202, {"status": "accepted"}
