"""What the parts of moderation share: the audit log, suspending a user, counting a host's strikes."""

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.accounts.models import User
from apps.accounts.services import user_ban, user_lock
from apps.live.stream_status import host_streams_end
from apps.moderation.explanations import explained
from apps.moderation.models import Case, Enforcement, ModerationAction
from apps.moderation.selectors import moderation_settings_get


def audit_record(
    *,
    action: str,
    reason: str,
    actor: User | None = None,
    case: Case | None = None,
    target_user_id: int | None = None,
    stream_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> ModerationAction:
    """One line of the append-only audit log (every decision and every automatic action)."""
    return ModerationAction.objects.create(
        actor=actor,
        action=action,
        case=case,
        target_user_id=target_user_id,
        stream_id=stream_id,
        reason=reason[:500],
        details=details or {},
    )


def user_suspend(*, user_id: int, days: int | None, reason: str) -> User:
    """Ban (days None = permanently), close every socket (user_ban does, after commit) and end any
    live stream of the user.

    Lock order: the user's streams (through live) first, then the user (through accounts).
    """
    host_streams_end(host_id=user_id, reason="host suspended by moderation", by_moderation=True)
    return user_ban(user=user_lock(user_id=user_id), days=days, reason=reason)


def strikes_apply(*, host_id: int, case: Case | None) -> Enforcement | None:
    """Suspend the host when their live strikes within the window reach the limit."""
    conf = moderation_settings_get()
    since = timezone.now() - timedelta(days=conf.strike_window_days)
    strikes = Enforcement.objects.filter(
        user_id=host_id, kind=Enforcement.Kind.STRIKE, created_at__gte=since, revoked_at__isnull=True
    ).count()
    if strikes < conf.strikes_to_suspend:
        return None
    reason = f"{strikes} strikes within {conf.strike_window_days} days"
    host = user_suspend(user_id=host_id, days=conf.suspension_days, reason=reason)
    enforcement = Enforcement.objects.create(
        user=host,
        kind=Enforcement.Kind.SUSPENSION,
        rule="repeated_strikes",
        **explained(
            gettext_noop("Suspended for %(days)s days: %(strikes)s strikes within %(window)s days."),
            days=conf.suspension_days,
            strikes=strikes,
            window=conf.strike_window_days,
        ),
        case=case,
        ends_at=host.banned_until,
    )
    audit_record(
        action=ModerationAction.Action.SUSPEND,
        reason=reason,
        case=case,
        target_user_id=host.pk,
        details={"days": conf.suspension_days, "strikes": strikes},
    )
    return enforcement
