"""Reads for ops: the admin analytics page and the database gauges of /metrics.

Everything is an aggregate query over the domain tables (never a hand-kept counter). Each domain
source is looked up by model label: an app that is not installed, or whose table is still empty,
contributes nothing instead of breaking the page or the scrape.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

logger = logging.getLogger(__name__)

PERMISSION = "core.view_analytics"


def _model(label: str):
    """The model, or None when its app is not installed (yet)."""
    try:
        return apps.get_model(label)
    except LookupError:
        return None


# --- Gauges for /metrics (cheap: indexed counts) --------------------------------------------------


def moderation_queue_depth() -> int:
    """Open moderation cases (flagged frames, age reviews, reports, appeals)."""
    Case = _model("moderation.Case")
    if Case is None:
        raise LookupError("moderation.Case")
    return Case.objects.filter(status="open").count()


def moderation_queue_oldest_seconds() -> float:
    Case = _model("moderation.Case")
    if Case is None:
        raise LookupError("moderation.Case")
    oldest = Case.objects.filter(status="open").aggregate(oldest=Min("created_at"))["oldest"]
    return (timezone.now() - oldest).total_seconds() if oldest else 0.0


def payments_stuck_pending(*, older_than_seconds: int) -> int:
    """Payments the gateway left pending for too long, plus started ones reconciliation should have expired."""
    Payment = _model("payments.Payment")
    if Payment is None:
        raise LookupError("payments.Payment")
    now = timezone.now()
    expiry = getattr(settings, "PAYMENT_PENDING_EXPIRY_MINUTES", 60) * 60
    reconcile = getattr(settings, "PAYMENT_RECONCILE_SECONDS", 300)
    return Payment.objects.filter(
        Q(status="pending", created_at__lt=now - timedelta(seconds=older_than_seconds))
        | Q(status="initiated", created_at__lt=now - timedelta(seconds=expiry + 2 * reconcile))
    ).count()


# --- The analytics page ----------------------------------------------------------------------------


@dataclass
class DayRow:
    day: date
    active_users: int = 0
    new_users: int = 0
    gifts: int = 0
    gift_coins: int = 0
    topups: int = 0
    topup_coins: int = 0
    topup_paisa: int = 0
    streams: int = 0
    stream_seconds: float = 0.0
    watch_seconds: float = 0.0

    @property
    def topup_npr(self) -> float:
        return self.topup_paisa / 100

    @property
    def stream_hours(self) -> float:
        return round(self.stream_seconds / 3600, 1)

    @property
    def watch_hours(self) -> float:
        return round(self.watch_seconds / 3600, 1)


# (model label, user field, date field): a user with a row dated that day was active that day.
ACTIVITY_SOURCES: list[tuple[str, str, str]] = [
    ("accounts.User", "id", "last_login"),
    ("accounts.User", "id", "date_joined"),
    ("gifts.GiftSend", "sender_id", "created_at"),
    ("live.Stream", "host_id", "started_at"),
    ("live.StreamViewer", "user_id", "joined_at"),
    ("payments.Payment", "user_id", "created_at"),
    ("reels.Reel", "author_id", "created_at"),
    ("reels.ReelComment", "author_id", "created_at"),
    ("reels.ReelLike", "user_id", "created_at"),
]


def _guarded(name: str, fn: Callable[[], Any], notes: list[str]) -> Any:
    """Run one section's queries; a missing app, table or column becomes a note, not an error page."""
    try:
        with transaction.atomic():  # a failed query must not poison the caller's transaction
            return fn()
    except (LookupError, DatabaseError, AttributeError, ValueError) as exc:
        logger.info("analytics section skipped", extra={"section": name, "error": type(exc).__name__})
        notes.append(f"{name}: not available ({type(exc).__name__})")
        return None


def _per_day(qs, date_field: str, **aggregates) -> dict[date, dict]:
    rows = qs.annotate(day=TruncDate(date_field)).values("day").annotate(**aggregates).order_by()
    return {row["day"]: row for row in rows}


def _require(label: str):
    model = _model(label)
    if model is None:
        raise LookupError(label)
    return model


def _active_users(start: datetime, end: datetime) -> tuple[dict[date, int], int]:
    seen: dict[date, set[int]] = defaultdict(set)
    for label, user_field, date_field in ACTIVITY_SOURCES:
        model = _model(label)
        if model is None:
            continue
        try:
            with transaction.atomic():
                seen_here = _activity_pairs(model, user_field, date_field, start, end)
        except Exception as exc:  # one broken source must not hide the others
            logger.info("activity source skipped", extra={"source": label, "error": type(exc).__name__})
            continue
        for day, user_id in seen_here:
            seen[day].add(user_id)
    distinct = set().union(*seen.values()) if seen else set()
    return {day: len(users) for day, users in seen.items()}, len(distinct)


def _activity_pairs(model, user_field: str, date_field: str, start: datetime, end: datetime) -> list[tuple]:
    model._meta.get_field(date_field)  # FieldDoesNotExist if an app renamed it: the caller skips the source
    model._meta.get_field(user_field.removesuffix("_id"))
    pairs = (
        model.objects.filter(**{f"{date_field}__gte": start, f"{date_field}__lt": end})
        .annotate(day=TruncDate(date_field))
        .values_list("day", user_field)
        .distinct()
        .order_by()
    )
    return [(day, user_id) for day, user_id in pairs if user_id is not None]


def analytics_report(*, days: int, today: date | None = None) -> dict[str, Any]:
    """Daily activity, money and streaming figures for the last `days` local days (today included)."""
    tz = timezone.get_current_timezone()
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    now = timezone.now()
    notes: list[str] = []
    rows = {first + timedelta(days=i): DayRow(day=first + timedelta(days=i)) for i in range(days)}

    active, active_total = _active_users(start, end)
    for day, n in active.items():
        if day in rows:
            rows[day].active_users = n

    def users() -> None:
        User = _require("accounts.User")
        qs = User.objects.filter(date_joined__gte=start, date_joined__lt=end)
        for day, row in _per_day(qs, "date_joined", n=Count("id")).items():
            if day in rows:
                rows[day].new_users = row["n"]

    def gifts() -> None:
        GiftSend = _require("gifts.GiftSend")
        qs = GiftSend.objects.filter(created_at__gte=start, created_at__lt=end)
        for day, row in _per_day(qs, "created_at", n=Sum("quantity"), coins=Sum("coins")).items():
            if day in rows:
                rows[day].gifts = row["n"] or 0
                rows[day].gift_coins = row["coins"] or 0

    def topups_daily() -> None:
        Payment = _require("payments.Payment")
        qs = Payment.objects.filter(status="completed", completed_at__gte=start, completed_at__lt=end)
        per_day = _per_day(
            qs, "completed_at", n=Count("id"), coins=Sum(F("coins") + F("bonus_coins")), paisa=Sum("amount_paisa")
        )
        for day, row in per_day.items():
            if day in rows:
                rows[day].topups = row["n"]
                rows[day].topup_coins = row["coins"] or 0
                rows[day].topup_paisa = row["paisa"] or 0

    def topups_by_gateway() -> list[dict]:
        Payment = _require("payments.Payment")
        return list(
            Payment.objects.filter(created_at__gte=start, created_at__lt=end)
            .values("gateway")
            .annotate(
                started=Count("id"),
                completed=Count("id", filter=Q(status="completed")),
                failed=Count("id", filter=Q(status__in=["failed", "canceled", "expired"])),
                open=Count("id", filter=Q(status__in=["initiated", "pending", "needs_review"])),
                paisa=Coalesce(Sum("amount_paisa", filter=Q(status="completed")), 0),
                coins=Coalesce(Sum(F("coins") + F("bonus_coins"), filter=Q(status="completed")), 0),
            )
            .order_by("gateway")
        )

    def streams() -> dict:
        Stream = _require("live.Stream")
        qs = Stream.objects.filter(started_at__gte=start, started_at__lt=end)
        length = ExpressionWrapper(Coalesce(F("ended_at"), Value(now)) - F("started_at"), output_field=DurationField())
        for day, row in _per_day(qs, "started_at", n=Count("id"), length=Sum(length)).items():
            if day in rows:
                rows[day].streams = row["n"]
                rows[day].stream_seconds = row["length"].total_seconds() if row["length"] else 0.0
        return qs.aggregate(peak=Max("peak_viewers"), hosts=Count("host_id", distinct=True))

    def watch_time() -> None:
        StreamViewer = _require("live.StreamViewer")
        qs = StreamViewer.objects.filter(joined_at__gte=start, joined_at__lt=end)
        watched = ExpressionWrapper(Coalesce(F("left_at"), Value(now)) - F("joined_at"), output_field=DurationField())
        for day, row in _per_day(qs, "joined_at", t=Sum(watched)).items():
            if day in rows:
                rows[day].watch_seconds = row["t"].total_seconds() if row["t"] else 0.0

    def ledger_by_kind() -> list[dict]:
        Posting = _require("wallet.Posting")
        return list(
            Posting.objects.filter(amount__gt=0, entry__created_at__gte=start, entry__created_at__lt=end)
            .values(kind=F("entry__kind"))
            .annotate(entries=Count("entry_id", distinct=True), coins=Sum("amount"))
            .order_by("-coins")
        )

    _guarded("new users", users, notes)
    _guarded("gifts", gifts, notes)
    _guarded("top-ups", topups_daily, notes)
    gateways = _guarded("top-ups by gateway", topups_by_gateway, notes) or []
    stream_totals = _guarded("streams", streams, notes) or {}
    _guarded("watch time", watch_time, notes)
    ledger = _guarded("ledger", ledger_by_kind, notes) or []

    ordered = [rows[day] for day in sorted(rows, reverse=True)]
    totals = DayRow(day=today)
    for row in ordered:
        for name in (
            "new_users",
            "gifts",
            "gift_coins",
            "topups",
            "topup_coins",
            "topup_paisa",
            "streams",
            "stream_seconds",
            "watch_seconds",
        ):
            setattr(totals, name, getattr(totals, name) + getattr(row, name))
    totals.active_users = active_total
    return {
        "days": days,
        "first": first,
        "last": today,
        "rows": ordered,
        "totals": totals,
        "gateways": [{**g, "npr": g["paisa"] / 100} for g in gateways],
        "stream_totals": stream_totals,
        "ledger": ledger,
        "notes": notes,
    }
