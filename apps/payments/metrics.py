"""What payments registers for core's ops pages (apps.core.analytics): payments stuck at a gateway
(/metrics), payers per day, top-ups per day and per gateway."""

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core.analytics import OpsReads, Window, daily_aggregates, daily_users
from apps.core.metrics import DbGauge
from apps.payments.models import Payment

S = Payment.Status


def payments_stuck_count() -> int:
    """Payments the gateway left pending too long, plus started ones reconciliation should have expired."""
    now = timezone.now()
    pending_for = timedelta(seconds=settings.METRICS_PAYMENT_STUCK_SECONDS)
    expired_by = timedelta(
        seconds=settings.PAYMENT_PENDING_EXPIRY_MINUTES * 60 + 2 * settings.PAYMENT_RECONCILE_SECONDS
    )
    return Payment.objects.filter(
        Q(status=S.PENDING, created_at__lt=now - pending_for) | Q(status=S.INITIATED, created_at__lt=now - expired_by)
    ).count()


def _started(window: Window) -> QuerySet[Payment]:
    return Payment.objects.filter(**window.within("created_at"))


def _payers(window: Window) -> list[tuple[date, int]]:
    return daily_users(_started(window), "user_id", "created_at")


def _topups(window: Window) -> dict[date, dict[str, float]]:
    completed = Payment.objects.filter(status=S.COMPLETED, **window.within("completed_at"))
    per_day = daily_aggregates(
        completed, "completed_at", n=Count("id"), coins=Sum(F("coins") + F("bonus_coins")), paisa=Sum("amount_paisa")
    )
    return {
        day: {"topups": row["n"], "topup_coins": row["coins"] or 0, "topup_paisa": row["paisa"] or 0}
        for day, row in per_day.items()
    }


def _gateways(window: Window) -> list[dict[str, Any]]:
    done = Q(status=S.COMPLETED)
    rows = (
        _started(window)
        .values("gateway")
        .annotate(
            started=Count("id"),
            completed=Count("id", filter=done),
            failed=Count("id", filter=Q(status__in=[S.FAILED, S.CANCELED, S.EXPIRED])),
            open=Count("id", filter=Q(status__in=[S.INITIATED, S.PENDING, S.NEEDS_REVIEW])),
            paisa=Coalesce(Sum("amount_paisa", filter=done), 0),
            coins=Coalesce(Sum(F("coins") + F("bonus_coins"), filter=done), 0),
        )
        .order_by("gateway")
    )
    return [{**row, "npr": row["paisa"] / 100} for row in rows]


OPS_READS = OpsReads(
    gauges=(
        DbGauge(
            "halobuzz_payments_stuck_pending",
            "Top-up payments still pending after METRICS_PAYMENT_STUCK_SECONDS.",
            payments_stuck_count,
        ),
    ),
    activity={"payers": _payers},
    daily={"top-ups": _topups},
    sections={"gateways": _gateways},
)
