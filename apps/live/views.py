"""The web room page (watch a stream, its chat, likes, viewer count and gifts in a browser) and
the room protocol's AsyncAPI document."""

from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from apps.core.exceptions import NotFound
from apps.live.selectors import stream_get

# What room.js shows, in the page's language (it fills %(name)s itself, digits localised in Nepali).
ROOM_PAGE_STRINGS = {
    "someone": gettext_lazy("someone"),
    "a_gift": gettext_lazy("a gift"),
    "gift_sent": gettext_lazy(" sent %(gift)s ×%(count)s"),
    "gift_coins": gettext_lazy(" (%(coins)s coins)"),
    "pk_cancelled": gettext_lazy("PK battle cancelled"),
    "pk_score": gettext_lazy("%(here)s – %(there)s coins"),
    "pk_draw": gettext_lazy("PK battle over: a draw, %(score)s"),
    "pk_this_host_wins": gettext_lazy("PK battle over: this host wins, %(score)s"),
    "pk_other_host_wins": gettext_lazy("PK battle over: the other host wins, %(score)s"),
    "pk_started": gettext_lazy("PK battle: %(seconds)s s, the host with more gift coins wins"),
    "chat_mode": gettext_lazy("Chat is now open to: %(mode)s"),
    "chat_mode_slow": gettext_lazy("Chat is now open to: %(mode)s, slow mode %(seconds)s s"),
    "chat_mode_everyone": gettext_lazy("everyone"),
    "chat_mode_followers": gettext_lazy("followers"),
    "chat_mode_og": gettext_lazy("OG members"),
    "muted": gettext_lazy("The host muted you in this chat."),
    "unmuted": gettext_lazy("You can chat again."),
    "moderation_warning": gettext_lazy("Warning from the moderators"),
    "ended": gettext_lazy("Ended"),
    "stream_ended": gettext_lazy("The stream has ended."),
    "left_room": gettext_lazy("You left the room: %(reason)s"),
    "linkcast_started": gettext_lazy("LinkCast: %(hosts)s are live together"),
    "linkcast_ended": gettext_lazy("LinkCast ended"),
    "request_failed": gettext_lazy("Request failed"),
    "video_failed": gettext_lazy("Video could not start."),
    "offline": gettext_lazy("offline"),
    "connecting": gettext_lazy("connecting"),
    "online": gettext_lazy("online"),
}


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
            "room_strings": ROOM_PAGE_STRINGS,
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
