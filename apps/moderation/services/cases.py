"""The moderator queue: opening cases (merged per target) and a moderator's decision on one."""

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from apps.accounts.models import User
from apps.accounts.services import (
    require_not_own,
    require_outranks,
    user_age_verification_set,
    user_lock,
    user_unban,
)
from apps.live.events import room_event_publish
from apps.live.services import stream_end
from apps.live.stream_status import host_active_stream_ids, stream_gifting_pause, stream_status
from apps.moderation.exceptions import ActionNotAllowed, CaseClosed, NotModerator, ReportTargetNotFound
from apps.moderation.explanations import explained
from apps.moderation.models import AgeCheck, Appeal, Case, Enforcement, Frame, ModerationAction
from apps.moderation.selectors import user_is_moderator
from apps.moderation.services.chat import chat_mute_lift
from apps.moderation.services.sanctions import audit_record, user_suspend
from apps.moderation.signals import case_decided

logger = logging.getLogger(__name__)


# What a moderator's decision tells the user (their free-text reason is shown as written).
_WARNED = gettext_noop("Warning from a moderator: %(reason)s")
_STREAM_ENDED = gettext_noop("A moderator ended your stream: %(reason)s")
_SUSPENDED = gettext_noop("Suspended for %(days)s days: %(reason)s")
_BANNED = gettext_noop("Banned: %(reason)s")


def case_open(
    *,
    kind: str,
    target_type: str,
    target_id: str | int,
    subject_id: int | None,
    summary: str = "",
    stream_id: int | None = None,
    frame: Frame | None = None,
    age_check: AgeCheck | None = None,
    enforcement: Enforcement | None = None,
    score: float | None = None,
    model_version: str = "",
) -> Case:
    """Open a queue item, or merge into the open one for the same target (highest score wins)."""
    key = {"kind": kind, "target_type": target_type, "target_id": str(target_id), "status": Case.Status.OPEN}
    case = Case.objects.select_for_update().filter(**key).first()
    if case is None:
        try:
            with transaction.atomic():  # savepoint: a concurrent opener may win the unique constraint
                return Case.objects.create(
                    **key,
                    subject_id=subject_id,
                    stream_id=stream_id,
                    frame=frame,
                    age_check=age_check,
                    enforcement=enforcement,
                    score=score,
                    model_version=model_version,
                    summary=summary[:300],
                )
        except IntegrityError:
            case = Case.objects.select_for_update().get(**key)
    if score is not None and (case.score is None or score > case.score):
        case.score, case.model_version = score, model_version
        if frame is not None:
            case.frame = frame
        case.save(update_fields=["score", "model_version", "frame", "updated_at"])
    return case


GENERAL_ACTIONS: set[str] = {
    ModerationAction.Action.DISMISS,
    ModerationAction.Action.WARN,
    ModerationAction.Action.END_STREAM,
    ModerationAction.Action.SUSPEND,
    ModerationAction.Action.BAN,
}
ACTIONS_BY_KIND: dict[str, set[str]] = {
    Case.Kind.FRAME: GENERAL_ACTIONS,
    Case.Kind.REPORT: GENERAL_ACTIONS,
    # Any decision resumes the stream's gifts (dismiss: the face is an adult's; the others act on the host).
    Case.Kind.AGE_FRAME: GENERAL_ACTIONS,
    Case.Kind.AGE_REVIEW: {
        ModerationAction.Action.AGE_APPROVE,
        ModerationAction.Action.AGE_REJECT,
        ModerationAction.Action.BAN,
    },
    Case.Kind.APPEAL: {ModerationAction.Action.APPEAL_UPHOLD, ModerationAction.Action.APPEAL_OVERTURN},
}


@transaction.atomic
def case_act(*, actor: User, case_id: int, action: str, reason: str, days: int | None = None) -> Case:
    """A moderator decides a case; the action takes effect at once and is written to the audit log.

    dismiss: no action. warn: the user is told (and their live room). end_stream: the case's stream
    ends. suspend: banned for `days`, sockets closed, tokens refused. ban: the same, permanently.
    Age reviews: age_approve / age_reject. A possible minor on a stream: any general action, and
    the stream's gifts resume. Appeals: appeal_uphold / appeal_overturn (lifts it).

    Lock order: the case, its appeal and enforcement, then streams (through live), then the user
    (through accounts): README, "Lock order".
    """
    if not user_is_moderator(actor):
        raise NotModerator()
    reason = (reason or "").strip()
    if not reason:
        raise ActionNotAllowed(
            gettext_lazy("Say why: the reason goes to the audit log."), details={"reason": [gettext("Required.")]}
        )
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("subject", "frame", "enforcement")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise ReportTargetNotFound(gettext_lazy("No such case."))
    if case.status != Case.Status.OPEN:
        raise CaseClosed()
    if action not in ACTIONS_BY_KIND.get(case.kind, set()):
        raise ActionNotAllowed(details={"allowed": sorted(ACTIONS_BY_KIND.get(case.kind, set()))})
    subject = case.subject
    if subject is not None:
        # Separation of duties: no case about oneself (one's own appeal or age review included), and
        # no action but dismissal on staff at or above one's role.
        require_not_own(actor=actor, owner_id=subject.pk)
        if action != ModerationAction.Action.DISMISS:
            require_outranks(actor=actor, target=subject)
    evidence: dict[str, Any] = {
        "frame": case.frame,
        "model_score": case.score,
        "model_version": case.model_version,
        "message_text": case.reports.exclude(message_text="").values_list("message_text", flat=True).first() or "",
    }
    details: dict[str, Any] = {}
    A = ModerationAction.Action

    if action == A.DISMISS:
        pass
    elif subject is None:
        raise ActionNotAllowed(gettext_lazy("This case names no user to act on."))
    elif action == A.WARN:
        _enforce(subject, Enforcement.Kind.WARNING, case, explained(_WARNED, reason=reason), evidence)
        stream = stream_status(stream_id=case.stream_id) if case.stream_id else None
        if stream is not None and stream.is_live:
            room_event_publish(
                stream_id=stream.stream_id,
                event_type="moderation.warning",
                payload={"stream_id": stream.stream_id, "user_id": subject.pk, "message": reason},
            )
    elif action == A.END_STREAM:
        stream_id = case.stream_id or next(iter(host_active_stream_ids(host_id=subject.pk)), None)
        if stream_id is None:
            raise ActionNotAllowed(gettext_lazy("This case has no stream to end."))
        stream_end(stream_id=stream_id, reason=f"Ended by moderation: {reason}", by_moderation=True)
        _enforce(subject, Enforcement.Kind.STREAM_ENDED, case, explained(_STREAM_ENDED, reason=reason), evidence)
        details["stream_id"] = stream_id
    elif action == A.SUSPEND:
        if not days or days < 1:
            raise ActionNotAllowed(
                gettext_lazy("Give the number of days."),
                details={"days": [gettext("A positive number is required.")]},
            )
        subject = user_suspend(user_id=subject.pk, days=days, reason=reason)
        _enforce(
            subject,
            Enforcement.Kind.SUSPENSION,
            case,
            explained(_SUSPENDED, days=days, reason=reason),
            evidence,
            ends_at=subject.banned_until,
        )
        details["days"] = days
    elif action == A.BAN:
        subject = user_suspend(user_id=subject.pk, days=None, reason=reason)
        _enforce(subject, Enforcement.Kind.BAN, case, explained(_BANNED, reason=reason), evidence)
    elif action in (A.AGE_APPROVE, A.AGE_REJECT):
        approved = action == A.AGE_APPROVE
        if approved:
            Enforcement.objects.filter(user=subject, kind=Enforcement.Kind.AGE_HOLD, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
        status = User.AgeVerification.VERIFIED if approved else User.AgeVerification.REJECTED
        user_age_verification_set(user_id=subject.pk, status=status)
    elif action in (A.APPEAL_UPHOLD, A.APPEAL_OVERTURN):
        _appeal_decide(actor=actor, case=case, overturn=action == A.APPEAL_OVERTURN, note=reason)

    if case.kind == Case.Kind.AGE_FRAME and case.stream_id is not None:
        details["gifting_resumed"] = stream_gifting_pause(stream_id=case.stream_id, paused=False)
    case.status, case.decided_at, case.decided_by, case.decision = Case.Status.RESOLVED, timezone.now(), actor, action
    case.save(update_fields=["status", "decided_at", "decided_by", "decision", "updated_at"])
    audit_record(
        actor=actor,
        action=action,
        reason=reason,
        case=case,
        target_user_id=subject.pk if subject else None,
        stream_id=case.stream_id,
        details=details,
    )
    if subject is not None and action != A.DISMISS:
        case_decided.send(sender=Case, case_id=case.pk, user_id=subject.pk, action=action, days=details.get("days"))
    logger.info("moderation case decided", extra={"case_id": case.pk, "action": action, "actor_id": actor.pk})
    return case


_RULE_BY_KIND: dict[str, str] = {Case.Kind.FRAME: "frame_review", Case.Kind.AGE_FRAME: "age_frame_review"}


def _enforce(
    user: User,
    kind: str,
    case: Case,
    explanation: dict[str, Any],
    evidence: dict[str, Any],
    ends_at: datetime | None = None,
) -> Enforcement:
    return Enforcement.objects.create(
        user=user,
        kind=kind,
        rule=_RULE_BY_KIND.get(case.kind, f"report_{case.target_type}"),
        **explanation,
        stream_id=case.stream_id,
        frame=evidence["frame"],
        message_text=evidence["message_text"],
        model_score=evidence["model_score"],
        model_version=evidence["model_version"],
        case=case,
        ends_at=ends_at,
    )


def _appeal_decide(*, actor: User, case: Case, overturn: bool, note: str) -> None:
    """Caller holds the appeal's case. Overturning a suspension or ban lifts it unless another one
    still holds; the user's lock makes a ban decided meanwhile on another case visible here."""
    enforcement = case.enforcement
    if enforcement is None:
        raise ActionNotAllowed(gettext_lazy("This appeal case names no enforcement."))
    appeal = Appeal.objects.select_for_update().get(enforcement=enforcement)
    appeal.status = Appeal.Status.OVERTURNED if overturn else Appeal.Status.UPHELD
    appeal.decided_at, appeal.decided_by, appeal.outcome_note = timezone.now(), actor, note[:500]
    appeal.save(update_fields=["status", "decided_at", "decided_by", "outcome_note"])
    if not overturn:
        return
    enforcement.revoked_at = timezone.now()
    enforcement.save(update_fields=["revoked_at"])
    if enforcement.kind in (Enforcement.Kind.SUSPENSION, Enforcement.Kind.BAN):
        user = user_lock(user_id=enforcement.user_id)
        still_banned = Enforcement.objects.filter(
            user_id=enforcement.user_id,
            kind__in=[Enforcement.Kind.SUSPENSION, Enforcement.Kind.BAN],
            revoked_at__isnull=True,
        ).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()))
        if not still_banned.exists():
            user_unban(user=user)
    elif enforcement.kind == Enforcement.Kind.CHAT_MUTE and enforcement.stream_id:
        chat_mute_lift(user_id=enforcement.user_id, stream_id=enforcement.stream_id)
