from datetime import datetime, timedelta
from statistics import median
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db.models import Count, Min, QuerySet
from django.db.models.functions import TruncHour
from django.utils import timezone

from apps.accounts.models import User
from apps.live.selectors import stream_moderator_is
from apps.live.stream_status import stream_status
from apps.moderation.chatfilter import Term
from apps.moderation.models import BannedWord, Case, Enforcement, Frame, HostBannedWord, ModerationSettings, Report

SETTINGS_CACHE_KEY = "moderation:settings:v1"
WORDS_CACHE_KEY = "moderation:banned-words:v2"
CACHE_SECONDS = 3600


def moderation_settings_get() -> ModerationSettings:
    """The settings row (created with defaults on first use), cached until an admin saves it."""
    cached: ModerationSettings | None = cache.get(SETTINGS_CACHE_KEY)
    if cached is not None:
        return cached
    row, _ = ModerationSettings.objects.get_or_create(pk=1)
    cache.set(SETTINGS_CACHE_KEY, row, CACHE_SECONDS)
    return row


def banned_terms() -> tuple[Term, ...]:
    """Active banned terms with their severity and matching, cached until a word is saved or deleted."""
    cached = cache.get(WORDS_CACHE_KEY)
    if cached is not None:
        return tuple(Term(*row) for row in cached)
    rows = list(
        BannedWord.objects.filter(is_active=True)
        .order_by("pk")
        .values_list("term", "severity", "inside_words", "language")
    )
    cache.set(WORDS_CACHE_KEY, rows, CACHE_SECONDS)
    return tuple(Term(*row) for row in rows)


HOST_WORDS_CACHE_KEY = "moderation:host-words:v1:{host_id}"


def host_word_list(*, host_id: int) -> QuerySet[HostBannedWord]:
    return HostBannedWord.objects.filter(host_id=host_id)


def host_banned_terms(*, host_id: int) -> tuple[str, ...]:
    """The host's own banned terms, cached until the host changes the list."""
    key = HOST_WORDS_CACHE_KEY.format(host_id=host_id)
    cached = cache.get(key)
    if cached is not None:
        return tuple(cached)
    terms = tuple(HostBannedWord.objects.filter(host_id=host_id).order_by("pk").values_list("term", flat=True))
    cache.set(key, list(terms), CACHE_SECONDS)
    return terms


# A stream's host never changes: this process remembers it (bounded), so a room message costs no
# query and no cache round trip for it.
_stream_hosts: dict[int, int] = {}
_STREAM_HOSTS_MAX = 10_000


def stream_host_id(*, stream_id: int) -> int | None:
    """The stream's host; None when there is no such stream (not remembered: it may not exist yet)."""
    host_id = _stream_hosts.get(stream_id)
    if host_id is not None:
        return host_id
    status = stream_status(stream_id=stream_id) if stream_id else None
    if status is None:
        return None
    if len(_stream_hosts) >= _STREAM_HOSTS_MAX:
        _stream_hosts.clear()
    _stream_hosts[stream_id] = status.host_id
    return status.host_id


def user_is_moderator(user: "User | AnonymousUser | None") -> bool:
    """Superusers and holders of moderation.act_case (the Moderators group) may act on cases."""
    return bool(user is not None and user.is_active and (user.is_superuser or user.has_perm("moderation.act_case")))


def held_message_may_decide(*, user: "User | AnonymousUser | None", stream_id: int) -> bool:
    """Who approves or rejects a room's held messages: its host, one of the host's room moderators,
    or staff who act on cases."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    status = stream_status(stream_id=stream_id)
    if status is not None and status.host_id == user.pk:
        return True
    return stream_moderator_is(stream_id=stream_id, user_id=user.pk) or user_is_moderator(user)


def enforcement_list(*, user: User) -> QuerySet[Enforcement]:
    return Enforcement.objects.filter(user=user).select_related("frame", "appeal")


def enforcement_appealable(*, enforcement: Enforcement) -> bool:
    """Once, while not lifted; age holds are settled by an ID review instead. (Reads the prefetched appeal.)"""
    try:
        enforcement.appeal  # noqa: B018
        return False
    except Enforcement.appeal.RelatedObjectDoesNotExist:
        pass
    return enforcement.kind != Enforcement.Kind.AGE_HOLD and enforcement.revoked_at is None


def queue_pending(*, kind: str | None = None) -> QuerySet[Case]:
    qs = Case.objects.filter(status=Case.Status.OPEN).select_related("subject", "stream", "frame", "age_check")
    return qs.filter(kind=kind) if kind else qs


def queue_open_count() -> int:
    """Items a moderator still has to decide (flagged frames, age reviews, reports, appeals)."""
    return Case.objects.filter(status=Case.Status.OPEN).count()


def queue_oldest_seconds() -> float:
    """How long the oldest open item has waited (0 when the queue is empty)."""
    oldest = Case.objects.filter(status=Case.Status.OPEN).aggregate(oldest=Min("created_at"))["oldest"]
    return (timezone.now() - oldest).total_seconds() if oldest else 0.0


def dashboard_figures(*, now: datetime | None = None) -> dict[str, Any]:
    """Pending items per kind, median minutes to a decision (last 7 days) and flags per hour (last 24 h)."""
    now = now or timezone.now()
    pending = dict(Case.objects.filter(status=Case.Status.OPEN).values_list("kind").annotate(n=Count("pk")).order_by())
    decided_cases = Case.objects.filter(decided_at__gte=now - timedelta(days=7))
    durations = sorted(
        (decided - created).total_seconds()
        for created, decided in decided_cases.values_list("created_at", "decided_at")
        if decided is not None
    )
    # Hours as the admin sees them (TruncHour works in the current time zone).
    since = timezone.localtime(now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    frames = dict(
        Frame.objects.filter(status__in=Frame.FLAGGED, uploaded_at__gte=since)
        .annotate(hour=TruncHour("uploaded_at"))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    reports = dict(
        Report.objects.filter(created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    hours = []
    for i in range(24):
        hour = since + timedelta(hours=i)
        hours.append({"hour": hour, "frames": frames.get(hour, 0), "reports": reports.get(hour, 0)})
    peak = max([h["frames"] + h["reports"] for h in hours] + [1])
    for h in hours:
        h["percent"] = round(100 * (h["frames"] + h["reports"]) / peak)
    return {
        "pending": {kind: pending.get(kind, 0) for kind, _ in Case.Kind.choices},
        "pending_total": sum(pending.values()),
        "decided_7d": len(durations),
        "median_minutes_to_decision": round(median(durations) / 60, 1) if durations else None,
        "hours": hours,
        "flags_24h": sum(h["frames"] + h["reports"] for h in hours),
    }
