"""What live registers for core's ops pages (apps.core.analytics): streams and viewers live now
(/metrics), hosts and viewers per day, hours streamed and watched."""

from datetime import date
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from apps.core.analytics import OpsReads, Window, daily_aggregates, daily_users
from apps.core.metrics import DbGauge
from apps.live.models import Stream, StreamViewer


def live_streams_count() -> int:
    return Stream.objects.filter(status=Stream.Status.LIVE).count()


def live_viewers_count() -> int:
    return Stream.objects.filter(status=Stream.Status.LIVE).aggregate(n=Sum("current_viewers"))["n"] or 0


def _started(window: Window) -> QuerySet[Stream]:
    return Stream.objects.filter(**window.within("started_at"))


def _joined(window: Window) -> QuerySet[StreamViewer]:
    return StreamViewer.objects.filter(**window.within("joined_at"))


def _hosts(window: Window) -> list[tuple[date, int]]:
    return daily_users(_started(window), "host_id", "started_at")


def _viewers(window: Window) -> list[tuple[date, int]]:
    return daily_users(_joined(window), "user_id", "joined_at")


def _streams(window: Window) -> dict[date, dict[str, float]]:
    length = ExpressionWrapper(
        Coalesce(F("ended_at"), Value(window.now)) - F("started_at"), output_field=DurationField()
    )
    per_day = daily_aggregates(_started(window), "started_at", n=Count("id"), length=Sum(length))
    return {
        day: {"streams": row["n"], "stream_seconds": row["length"].total_seconds() if row["length"] else 0.0}
        for day, row in per_day.items()
    }


def _watch_time(window: Window) -> dict[date, dict[str, float]]:
    watched = ExpressionWrapper(
        Coalesce(F("left_at"), Value(window.now)) - F("joined_at"), output_field=DurationField()
    )
    per_day = daily_aggregates(_joined(window), "joined_at", t=Sum(watched))
    return {day: {"watch_seconds": row["t"].total_seconds() if row["t"] else 0.0} for day, row in per_day.items()}


def _stream_totals(window: Window) -> dict[str, Any]:
    return _started(window).aggregate(peak=Max("peak_viewers"), hosts=Count("host_id", distinct=True))


OPS_READS = OpsReads(
    gauges=(
        DbGauge("halobuzz_live_streams", "Streams live now.", live_streams_count),
        DbGauge("halobuzz_live_viewers", "Viewers counted in live streams now.", live_viewers_count),
    ),
    activity={"hosts going live": _hosts, "viewers": _viewers},
    daily={"streams": _streams, "watch time": _watch_time},
    sections={"stream_totals": _stream_totals},
)
