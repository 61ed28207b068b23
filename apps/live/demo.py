"""Demo data: the demo `host` is live, so /streams/<id>/watch/ works right after seed_demo, and has
tomorrow's stream scheduled with the demo `viewer` subscribed; the category catalogue has its default
entries, and the two demo streams are in it (music)."""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.accounts.models import User
from apps.live.models import ScheduledStream, Stream
from apps.live.services import category_catalogue_ensure, schedule_create, schedule_subscribe, stream_go_live


def seed(*, out: Callable[[str], None]) -> None:
    added = category_catalogue_ensure()
    out(f"Stream categories: {added} added to the catalogue (admin: Live streams > Categories)")
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
    soon = timezone.now() + timedelta(hours=1)
    schedule = ScheduledStream.objects.filter(host=host, cancelled_at=None, stream=None, starts_at__gt=soon).first()
    if schedule is None:
        schedule = schedule_create(
            host=host, title="Tihar songs, live", category="religion", starts_at=timezone.now() + timedelta(days=1)
        )
    viewer = User.objects.filter(username="viewer").first()
    if viewer is not None:
        schedule_subscribe(user=viewer, schedule_id=schedule.pk)
    out(f"Scheduled demo stream #{schedule.pk} by host at {schedule.starts_at:%Y-%m-%d %H:%M} UTC")
