"""Demo data: the demo `host` is live, so /streams/<id>/watch/ works right after seed_demo."""

from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import User
from apps.live.models import Stream
from apps.live.services import stream_go_live


def seed(*, out: Callable[[str], None]) -> None:
    host = User.objects.filter(username="host").first()
    if host is None:
        out("live: no demo host user; skipped")
        return
    stream = Stream.objects.filter(host=host, status__in=Stream.ACTIVE_STATUSES).first()
    if stream is None:
        stream = stream_go_live(host=host, title="Evening songs from Kathmandu", category="music")
    else:
        # A rerun keeps the demo stream alive for the silent-stream sweep.
        Stream.objects.filter(pk=stream.pk).update(last_heartbeat_at=timezone.now())
    out(f"Live demo stream #{stream.pk} by host: {settings.SITE_URL}/streams/{stream.pk}/watch/")
