"""WebSocket routes of every app, gathered in one place for asgi.py."""

from apps.core.routing import websocket_urlpatterns as core_ws
from apps.live.routing import ROOM_PATH_PREFIX
from apps.live.routing import websocket_urlpatterns as live_ws

websocket_urlpatterns = [*core_ws, *live_ws]

# Paths whose consumers check the token themselves (see JwtAuthMiddleware).
token_checked_by_consumer = (ROOM_PATH_PREFIX,)
