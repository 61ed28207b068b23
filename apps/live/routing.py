from django.urls import path

from apps.live.consumers import StreamRoomConsumer

websocket_urlpatterns = [path("ws/streams/<id:stream_id>/", StreamRoomConsumer.as_asgi())]
