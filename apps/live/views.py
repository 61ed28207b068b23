"""The web room page: watch a stream, its chat, likes, viewer count and gifts in a browser."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.exceptions import NotFound
from apps.live.selectors import stream_get


def stream_watch(request: HttpRequest, stream_id: int) -> HttpResponse:
    try:
        stream = stream_get(stream_id=stream_id)
    except NotFound:
        raise Http404("No such stream.") from None
    return render(
        request,
        "live/watch.html",
        {
            "stream": stream,
            "agora_app_id": settings.AGORA_APP_ID if settings.AGORA_APP_CERTIFICATE else "",
            "ws_base": settings.LIVE_WS_BASE_URL.rstrip("/"),
        },
    )
