"""ASGI entry point: daphne serves the WebSocket rooms (and, on the embedded default, HTTP too)."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")
# The Django app must be set up before consumers (and their models) are imported.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.cache import caches  # noqa: E402

from apps.accounts.channels_auth import JwtAuthMiddleware  # noqa: E402
from apps.core.middleware import WebSocketMetricsMiddleware  # noqa: E402
from halobuzz.autobahn_tuning import autobahn_plain_log_values  # noqa: E402
from halobuzz.embedded_layer import room_server_http  # noqa: E402
from halobuzz.routing import token_checked_by_consumer, websocket_urlpatterns  # noqa: E402

# One cache object for every connection of this process. Django keeps cache objects per async
# context, so each WebSocket's revoked-token check built its own Redis client and held a connection
# for the socket's life: 10,000 idle viewers met Redis's maxclients and the open-files limit. Made
# here, in the main context, it is inherited by every connection (redis-py clients are thread-safe).
caches["default"]

# daphne imports this module once per process, before it serves: the place to tune the server it runs.
autobahn_plain_log_values()


class OriginCheck:
    """Browsers always send an Origin header: they are held to ALLOWED_HOSTS (channels'
    AllowedHostsOriginValidator), so a page of another site cannot open our sockets. A native app
    sends none, and no page can make a browser leave it out: such a handshake is let in when its
    token signed a user in (JwtAuthMiddleware runs first; on the room paths a well-signed token,
    whose revocation the room checks), and refused without one, as before."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.browsers = AllowedHostsOriginValidator(app)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        native = not any(name == b"origin" for name, _ in scope.get("headers", []))
        if native and scope["user"].is_authenticated:
            return await self.app(scope, receive, send)
        return await self.browsers(scope, receive, send)


application = ProtocolTypeRouter(
    {
        # The embedded default's room server also takes the worker's room events (embedded_layer).
        "http": room_server_http(django_asgi_app),
        "websocket": WebSocketMetricsMiddleware(
            JwtAuthMiddleware(OriginCheck(URLRouter(websocket_urlpatterns)), deferred_paths=token_checked_by_consumer)
        ),
    }
)
