from django.urls import path

from apps.live.consumers import StreamRoomConsumer

# The room consumer checks its token itself, with the room's facts (JwtAuthMiddleware's deferred_paths).
ROOM_PATH_PREFIX = "/ws/streams/"

websocket_urlpatterns = [path("ws/streams/<id:stream_id>/", StreamRoomConsumer.as_asgi())]
