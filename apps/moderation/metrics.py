"""What moderation registers for core's ops pages (apps.core.analytics): the queue in /metrics."""

from apps.core.analytics import OpsReads
from apps.core.metrics import DbGauge
from apps.moderation.selectors import queue_oldest_seconds, queue_open_count

OPS_READS = OpsReads(
    gauges=(
        DbGauge("halobuzz_moderation_queue_depth", "Flagged items waiting for a moderator.", queue_open_count),
        DbGauge(
            "halobuzz_moderation_queue_oldest_seconds",
            "Age of the oldest item waiting for a moderator (0 when the queue is empty).",
            queue_oldest_seconds,
        ),
    )
)
