"""User reports: what can be reported, and merging reports on one target into one open case."""

from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.live.stream_status import stream_status
from apps.moderation.exceptions import CannotReportSelf, ReportTargetNotFound
from apps.moderation.models import Case, Report
from apps.moderation.services.cases import case_open

# Items owned by apps above moderation (reels) that users may report: the app registers, for its
# target type, a function from the item's id to the id of the user it belongs to (None: no such item).
ReportSubjectOf = Callable[[int], int | None]
_REPORT_SUBJECTS: dict[str, ReportSubjectOf] = {}


def report_target_register(*, target_type: str, subject_of: ReportSubjectOf) -> None:
    """Let users report items of `target_type` (a Case.TargetType); call it from the app's ready()."""
    _REPORT_SUBJECTS[Case.TargetType(target_type)] = subject_of


def _report_target(
    *, target_type: str, target_id: int, stream_id: int | None, author_id: int | None
) -> tuple[str, int, int | None]:
    """Resolve what is reported into (case target id, subject user id, stream id)."""
    if target_type == Case.TargetType.STREAM:
        stream = stream_status(stream_id=target_id)
        if stream is None:
            raise ReportTargetNotFound()
        return str(target_id), stream.host_id, target_id
    if target_type == Case.TargetType.USER:
        if not User.objects.filter(pk=target_id).exists():
            raise ReportTargetNotFound()
        return str(target_id), target_id, None
    if target_type == Case.TargetType.CHAT_MESSAGE:
        # Chat is not stored: the case is the author's messages in that room, each report quotes one.
        if stream_id is None or author_id is None:
            raise ReportTargetNotFound(gettext_lazy("A chat report needs the stream and the message's author."))
        if stream_status(stream_id=stream_id) is None or not User.objects.filter(pk=author_id).exists():
            raise ReportTargetNotFound()
        return f"{stream_id}:{author_id}", author_id, stream_id
    subject_of = _REPORT_SUBJECTS.get(target_type)
    subject_id = subject_of(target_id) if subject_of is not None else None
    if subject_id is None:
        raise ReportTargetNotFound()
    return str(target_id), subject_id, None


@transaction.atomic
def report_create(
    *,
    reporter: User,
    target_type: str,
    target_id: int,
    reason: str,
    details: str = "",
    stream_id: int | None = None,
    author_id: int | None = None,
    message_text: str = "",
) -> tuple[Report, bool]:
    """File a report; reports on the same target merge into one open case (counted once per reporter).

    Returns (report, created): a reporter repeating themselves gets their first report back.
    """
    case_target, subject_id, stream = _report_target(
        target_type=target_type, target_id=target_id, stream_id=stream_id, author_id=author_id
    )
    if subject_id == reporter.pk:
        raise CannotReportSelf()
    case = case_open(
        kind=Case.Kind.REPORT,
        target_type=target_type,
        target_id=case_target,
        subject_id=subject_id,
        stream_id=stream,
        summary=f"Reported for {Report.Reason(reason).label.lower()}",
    )
    existing = Report.objects.filter(case=case, reporter=reporter).first()
    if existing is not None:
        return existing, False
    report = Report.objects.create(
        case=case, reporter=reporter, reason=reason, details=details[:500], message_text=message_text[:1000]
    )
    Case.objects.filter(pk=case.pk).update(reporter_count=F("reporter_count") + 1, updated_at=timezone.now())
    return report, True
