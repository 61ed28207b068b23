"""ASGI entry point: daphne serves the WebSocket rooms (and, on the embedded default, HTTP too)."""

import os

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
from halobuzz.routing import websocket_urlpatterns  # noqa: E402

# One cache object for every connection of this process. Django keeps cache objects per async
# context, so each WebSocket's revoked-token check built its own Redis client and held a connection
# for the socket's life: 10,000 idle viewers met Redis's maxclients and the open-files limit. Made
# here, in the main context, it is inherited by every connection (redis-py clients are thread-safe).
caches["default"]

# daphne imports this module once per process, before it serves: the place to tune the server it runs.
autobahn_plain_log_values()

application = ProtocolTypeRouter(
    {
        # The embedded default's room server also takes the worker's room events (embedded_layer).
        "http": room_server_http(django_asgi_app),
        "websocket": WebSocketMetricsMiddleware(
            AllowedHostsOriginValidator(JwtAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
