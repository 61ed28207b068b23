"""The web room page (watch a stream, its chat, likes, viewer count and gifts in a browser) and
the room protocol's AsyncAPI document."""

from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

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


ASYNCAPI_DOCUMENT = Path(__file__).resolve().with_name("asyncapi.yaml")


@cache
def _asyncapi_document() -> bytes:
    return ASYNCAPI_DOCUMENT.read_bytes()


@csrf_exempt  # read-only: a POST is answered 405, not a CSRF failure
@require_safe
def asyncapi_document(request: HttpRequest) -> HttpResponse:
    """The AsyncAPI 3.0 document of `ws/streams/<id>/`, served beside the OpenAPI schema (public, as that is)."""
    return HttpResponse(_asyncapi_document(), content_type="application/yaml; charset=utf-8")
