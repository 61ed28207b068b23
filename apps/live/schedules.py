"""Scheduled streams: a host announces a stream ahead, followers subscribe, the subscribers are
reminded shortly before the start (the reminder sweep claims each schedule once), and going live near
the start links the schedule, so a schedule never linked by its no-show time shows as missed."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.exceptions import AccountBanned
from apps.accounts.models import User
from apps.accounts.selectors import is_blocked_between
from apps.accounts.services import user_capped_add, user_require_verified_age, user_require_verified_phone
from apps.core.content_filter import text_mask
from apps.core.exceptions import NotFound
from apps.core.timestamps import iso_utc
from apps.live.categories import category_resolve
from apps.live.exceptions import (
    ScheduleClosed,
    ScheduleLimit,
    ScheduleOwnSubscription,
    ScheduleTimeInvalid,
    StreamBlocked,
)
from apps.live.models import ScheduledStream, ScheduleSubscription, Stream

logger = logging.getLogger(__name__)

# A start this close to now is "going live", not a schedule.
SCHEDULE_LEAD_MINUTES = 5


def _open(now: datetime) -> Q:
    """Schedules still to start: not cancelled, not linked, not past their no-show time."""
    no_show = timedelta(minutes=settings.LIVE_SCHEDULE_NO_SHOW_MINUTES)
    return Q(cancelled_at__isnull=True, stream__isnull=True, starts_at__gt=now - no_show)


def _starts_at_check(starts_at: datetime, now: datetime) -> None:
    earliest = now + timedelta(minutes=SCHEDULE_LEAD_MINUTES)
    latest = now + timedelta(days=settings.LIVE_SCHEDULE_MAX_DAYS_AHEAD)
    if not earliest <= starts_at <= latest:
        raise ScheduleTimeInvalid(
            details={"earliest": iso_utc(earliest), "latest": iso_utc(latest)},
        )


@transaction.atomic
def schedule_create(*, host: User, title: str, starts_at: datetime, category: str = "") -> ScheduledStream:
    """Announce a stream (at most LIVE_SCHEDULE_MAX_UPCOMING open at once). Refused to accounts that
    could not go live: banned ones and those without a verified phone or age."""
    if host.is_banned:
        raise AccountBanned.of(host)
    user_require_verified_phone(
        user=host,
        message=gettext_lazy("Scheduling a stream needs a verified phone number. Verify yours under Account first."),
    )
    user_require_verified_age(
        user=host,
        message=gettext_lazy(
            "Scheduling a stream needs a verified age. Take the selfie age check under Age verification first."
        ),
    )
    now = timezone.now()
    _starts_at_check(starts_at, now)
    category_slug = category_resolve(category)
    most = settings.LIVE_SCHEDULE_MAX_UPCOMING
    schedule, _ = user_capped_add(
        user_id=host.pk,
        rows=ScheduledStream.objects.filter(_open(now), host_id=host.pk),
        existing=ScheduledStream.objects.none(),
        most=most,
        limit_error=ScheduleLimit(details={"max": most}),
        create=lambda: ScheduledStream.objects.create(
            host=host, title=text_mask(title), category_id=category_slug, starts_at=starts_at
        ),
    )
    logger.info("stream scheduled", extra={"schedule_id": schedule.pk, "host_id": host.pk})
    return schedule


def _host_schedule_locked(*, host: User, schedule_id: int) -> ScheduledStream:
    schedule = ScheduledStream.objects.select_for_update().filter(pk=schedule_id, host_id=host.pk).first()
    if schedule is None:
        raise NotFound(gettext_lazy("No such scheduled stream."))
    return schedule


@transaction.atomic
def schedule_update(
    *,
    host: User,
    schedule_id: int,
    title: str | None = None,
    category: str | None = None,
    starts_at: datetime | None = None,
) -> ScheduledStream:
    """Change an upcoming schedule of the host's. A new start time is reminded of afresh."""
    schedule = _host_schedule_locked(host=host, schedule_id=schedule_id)
    now = timezone.now()
    if schedule.status_at(now) != ScheduledStream.Status.UPCOMING:
        raise ScheduleClosed(details={"status": schedule.status_at(now)})
    if title is not None:
        schedule.title = text_mask(title)
    if category is not None:
        schedule.category_id = category_resolve(category)
    if starts_at is not None and starts_at != schedule.starts_at:
        _starts_at_check(starts_at, now)
        schedule.starts_at, schedule.reminded_at = starts_at, None
    schedule.save(update_fields=["title", "category", "starts_at", "reminded_at"])
    return schedule


@transaction.atomic
def schedule_cancel(*, host: User, schedule_id: int) -> ScheduledStream:
    """Cancel one of the host's upcoming schedules (again: no change)."""
    schedule = _host_schedule_locked(host=host, schedule_id=schedule_id)
    if schedule.cancelled_at is not None:
        return schedule
    now = timezone.now()
    if schedule.status_at(now) != ScheduledStream.Status.UPCOMING:
        raise ScheduleClosed(details={"status": schedule.status_at(now)})
    schedule.cancelled_at = now
    schedule.save(update_fields=["cancelled_at"])
    logger.info("schedule cancelled", extra={"schedule_id": schedule.pk})
    return schedule


def schedule_subscribe(*, user: User, schedule_id: int) -> tuple[ScheduleSubscription, bool]:
    """Ask to be reminded of an upcoming schedule; again: (the subscription, False)."""
    schedule = ScheduledStream.objects.filter(pk=schedule_id).first()
    if schedule is None:
        raise NotFound(gettext_lazy("No such scheduled stream."))
    if schedule.host_id == user.pk:
        raise ScheduleOwnSubscription()
    if is_blocked_between(user_id=user.pk, other_id=schedule.host_id):
        raise StreamBlocked()
    status = schedule.status_at(timezone.now())
    if status != ScheduledStream.Status.UPCOMING:
        raise ScheduleClosed(details={"status": status})
    return ScheduleSubscription.objects.get_or_create(schedule_id=schedule.pk, user_id=user.pk)


def schedule_unsubscribe(*, user: User, schedule_id: int) -> None:
    """Stop the reminder (nothing to do when not subscribed)."""
    ScheduleSubscription.objects.filter(schedule_id=schedule_id, user_id=user.pk).delete()


def schedule_link(*, stream: Stream) -> ScheduledStream | None:
    """Link the stream the host just started to their schedule due around now (from EARLY minutes
    before its start to NO_SHOW minutes after), the earliest if several; in the go-live transaction."""
    now = stream.started_at or timezone.now()
    due = (
        ScheduledStream.objects.select_for_update(skip_locked=True)
        .filter(
            _open(now),
            host_id=stream.host_id,
            starts_at__lte=now + timedelta(minutes=settings.LIVE_SCHEDULE_EARLY_MINUTES),
        )
        .order_by("starts_at")
        .first()
    )
    if due is None:
        return None
    due.stream = stream
    due.save(update_fields=["stream"])
    return due


def schedule_reminders_claim(*, now: datetime | None = None) -> list[ScheduledStream]:
    """Claim the open schedules starting within LIVE_SCHEDULE_REMINDER_MINUTES whose reminder is not
    sent: one conditional UPDATE, so of two sweeps at once each schedule goes to exactly one."""
    now = now or timezone.now()
    window = timedelta(minutes=settings.LIVE_SCHEDULE_REMINDER_MINUTES)
    due = ScheduledStream.objects.filter(
        _open(now), reminded_at__isnull=True, starts_at__lte=now + window, starts_at__gt=now
    )
    with transaction.atomic():
        ids = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True))
        ScheduledStream.objects.filter(pk__in=ids, reminded_at__isnull=True).update(reminded_at=now)
    return list(ScheduledStream.objects.filter(pk__in=ids).select_related("host").order_by("starts_at"))
