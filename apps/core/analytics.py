"""Reads for ops: the admin analytics page and the database gauges of /metrics.

Everything is an aggregate query over the domain tables (never a hand-kept counter). Core imports
no domain app: each app registers its reads in `apps/<app>/metrics.py` as `OPS_READS = OpsReads(...)`
(found like demo.py and roles.py, through apps.core.registry), reading its own tables with its own
statuses. An app that is not installed contributes nothing; a read that fails becomes a note on
the page (or a skipped gauge) instead of an error.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.core.metrics import DbGauge
from apps.core.registry import app_modules

logger = logging.getLogger(__name__)

PERMISSION = "core.view_analytics"
T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """The report's period: [start, end) in local days; `now` ends what is still running."""

    start: datetime
    end: datetime
    now: datetime

    def within(self, column: str) -> dict[str, datetime]:
        """Filter arguments for rows whose `column` falls in the window: `qs.filter(**window.within("created_at"))`."""
        return {f"{column}__gte": self.start, f"{column}__lt": self.end}


# Who did something on which local day: (day, user id) pairs.
ActivityReader = Callable[[Window], Iterable[tuple[date, int]]]
# Figures per local day: {day: {DayRow column: value}}.
DailyReader = Callable[[Window], Mapping[date, Mapping[str, float]]]
# One table of the page ("gateways", "ledger", "stream_totals"): whatever the template shows there.
SectionReader = Callable[[Window], Any]


@dataclass(frozen=True)
class OpsReads:
    """What an app registers for core's ops pages (`OPS_READS` in apps/<app>/metrics.py).

    gauges: numbers /metrics reads from the database at scrape time.
    activity, daily, sections: the analytics page's readers, named for its notes when one fails.
    """

    gauges: tuple[DbGauge, ...] = ()
    activity: Mapping[str, ActivityReader] = field(default_factory=dict)
    daily: Mapping[str, DailyReader] = field(default_factory=dict)
    sections: Mapping[str, SectionReader] = field(default_factory=dict)


def ops_reads() -> list[OpsReads]:
    """Every installed app's registered reads, in INSTALLED_APPS order."""
    return [
        module.OPS_READS
        for module in app_modules("metrics")
        if isinstance(getattr(module, "OPS_READS", None), OpsReads)
    ]


def daily_aggregates(qs: QuerySet[Any], date_field: str, **aggregates: Any) -> dict[date, dict[str, Any]]:
    """The aggregates of `qs` per local day of `date_field`: {day: {name: value}}."""
    rows = qs.annotate(day=TruncDate(date_field)).values("day").annotate(**aggregates).order_by()
    return {row["day"]: row for row in rows}


def daily_users(qs: QuerySet[Any], user_field: str, date_field: str) -> list[tuple[date, int]]:
    """Distinct (local day of `date_field`, `user_field`) pairs of `qs`, for ActivityReader."""
    pairs = qs.annotate(day=TruncDate(date_field)).values_list("day", user_field).distinct().order_by()
    return [(day, user_id) for day, user_id in pairs if user_id is not None]


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


def _guarded(name: str, read: Callable[[Window], T], window: Window, notes: list[str] | None) -> T | None:
    """Run one reader; whatever it raises is logged and becomes a note on the page (when `notes` is
    given), not an error page: one broken reader must not hide the others."""
    try:
        with transaction.atomic():  # a failed query must not poison the caller's transaction
            return read(window)
    except Exception as exc:
        logger.warning("analytics reader skipped", extra={"reader": name, "error": type(exc).__name__}, exc_info=True)
        if notes is not None:
            notes.append(f"{name}: not available ({type(exc).__name__})")
        return None


DAY_COLUMNS = tuple(f.name for f in fields(DayRow) if f.name not in ("day", "active_users"))
SECTION_DEFAULTS: dict[str, Callable[[], Any]] = {"gateways": list, "stream_totals": dict, "ledger": list}


def _daily_values(read: DailyReader, window: Window) -> dict[date, dict[str, float]]:
    """The reader's figures, refused whole when it names a column the page does not have."""
    values = {day: dict(columns) for day, columns in read(window).items()}
    unknown = {column for columns in values.values() for column in columns} - set(DAY_COLUMNS)
    if unknown:
        raise ValueError(f"no such analytics columns: {sorted(unknown)}")
    return values


def analytics_report(*, days: int, today: date | None = None, reads: list[OpsReads] | None = None) -> dict[str, Any]:
    """Daily activity, money and streaming figures for the last `days` local days (today included),
    from the readers the apps registered (or those given)."""
    tz = timezone.get_current_timezone()
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    window = Window(
        start=datetime.combine(first, datetime.min.time(), tzinfo=tz),
        end=datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=tz),
        now=timezone.now(),
    )
    notes: list[str] = []
    rows = {first + timedelta(days=i): DayRow(day=first + timedelta(days=i)) for i in range(days)}
    reads = ops_reads() if reads is None else reads

    seen: dict[date, set[int]] = defaultdict(set)
    for name, activity in [item for app in reads for item in app.activity.items()]:
        for day, user_id in _guarded(name, activity, window, None) or []:
            seen[day].add(user_id)
    for day, users in seen.items():
        if day in rows:
            rows[day].active_users = len(users)

    for name, daily in [item for app in reads for item in app.daily.items()]:
        for day, columns in (_guarded(name, partial(_daily_values, daily), window, notes) or {}).items():
            if day in rows:
                for column, value in columns.items():
                    setattr(rows[day], column, value or 0)

    sections = {name: make() for name, make in SECTION_DEFAULTS.items()}
    for name, section in [item for app in reads for item in app.sections.items()]:
        result = _guarded(name, section, window, notes)
        if result is not None:
            sections[name] = result

    ordered = [rows[day] for day in sorted(rows, reverse=True)]
    totals = DayRow(day=today)
    for row in ordered:
        for column in DAY_COLUMNS:
            setattr(totals, column, getattr(totals, column) + getattr(row, column))
    totals.active_users = len(set().union(*seen.values())) if seen else 0
    return {"days": days, "first": first, "last": today, "rows": ordered, "totals": totals, **sections, "notes": notes}
