"""Appeals: a user contesting an enforcement, once (the decision is a case: services.cases)."""

from django.db import transaction
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.moderation.exceptions import AlreadyAppealed, AppealNotAllowed, EnforcementNotFound
from apps.moderation.models import Appeal, Case, Enforcement
from apps.moderation.services.cases import case_open


@transaction.atomic
def appeal_create(*, user: User, enforcement_id: int, text: str) -> Appeal:
    """Appeal one's own enforcement, once; the appeal joins the moderator queue."""
    enforcement = Enforcement.objects.select_for_update().filter(pk=enforcement_id, user=user).first()
    if enforcement is None:
        raise EnforcementNotFound()
    if enforcement.kind == Enforcement.Kind.AGE_HOLD:
        raise AppealNotAllowed(gettext_lazy("Age holds are lifted by uploading an ID document for review."))
    if enforcement.revoked_at is not None:
        raise AppealNotAllowed(gettext_lazy("This enforcement was already lifted."))
    if Appeal.objects.filter(enforcement=enforcement).exists():
        raise AlreadyAppealed()
    appeal = Appeal.objects.create(enforcement=enforcement, text=text[:1000])
    case_open(
        kind=Case.Kind.APPEAL,
        target_type=Case.TargetType.ENFORCEMENT,
        target_id=enforcement.pk,
        subject_id=user.pk,
        stream_id=enforcement.stream_id,
        frame=enforcement.frame,
        enforcement=enforcement,
        score=enforcement.model_score,
        model_version=enforcement.model_version,
        summary=f"Appeal against {enforcement.get_kind_display().lower()} ({enforcement.rule})",
    )
    return appeal
