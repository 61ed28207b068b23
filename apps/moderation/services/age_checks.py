"""Age verification: the selfie estimate and the ID document a held account uploads."""

import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy, gettext_noop

from apps.accounts.models import User
from apps.accounts.services import user_age_verification_set, user_face_descriptor_set
from apps.live.stream_status import host_streams_end
from apps.moderation.exceptions import AgeCheckNotAllowed, NoFaceFound, SeveralFaces
from apps.moderation.explanations import explained
from apps.moderation.images import image_format, image_read_checked
from apps.moderation.models import AgeCheck, Case, Enforcement, ModerationAction
from apps.moderation.selectors import moderation_settings_get
from apps.moderation.services.cases import case_open
from apps.moderation.services.sanctions import audit_record


def age_verification_submit(*, user: User, upload: UploadedFile) -> AgeCheck:
    """Estimate the age on a selfie. Clearly adult: verified. Possibly a minor: held for a moderator.

    Only an unverified account may submit (a held one cannot retry its way out: the moderator
    decides after seeing an ID document). The face's descriptor is kept in both cases, for the KYC
    face match of a host's ID photo; an adult's selfie itself is not kept.
    """
    from apps.accounts.faces import face_describer
    from apps.moderation.age import age_estimator

    if user.age_verification != User.AgeVerification.UNVERIFIED:
        raise AgeCheckNotAllowed(details={"age_verification": user.age_verification})
    data, image = image_read_checked(upload, max_bytes=settings.MODERATION_SELFIE_MAX_BYTES)
    estimator = age_estimator()
    faces = estimator.estimate(image)
    if not faces:
        raise NoFaceFound()
    if len(faces) > 1:
        raise SeveralFaces(details={"faces": len(faces)})
    face = faces[0]
    describer = face_describer()
    # The age model's box, not a second detection: the descriptor is of the face whose age was judged.
    (described,) = describer.describe(image, box=face.box)
    conf = moderation_settings_get()
    adult = face.age >= settings.ADULT_AGE + conf.age_safety_margin_years
    status = User.AgeVerification.VERIFIED if adult else User.AgeVerification.PENDING_REVIEW
    with transaction.atomic():
        if not adult:
            # Lock order: the streams (live) before the user (accounts). Should the user's state turn
            # out to have changed meanwhile, the raise below rolls the ending back (and its broadcast).
            host_streams_end(host_id=user.pk, reason="Age verification pending", by_moderation=True)
        if not user_age_verification_set(user_id=user.pk, status=status, only_from=User.AgeVerification.UNVERIFIED):
            user.refresh_from_db(fields=["age_verification"])
            raise AgeCheckNotAllowed(details={"age_verification": user.age_verification})
        user_face_descriptor_set(user_id=user.pk, descriptor=described.descriptor, model_version=describer.version)
        check = AgeCheck(
            user_id=user.pk,
            estimated_age=round(face.age, 1),
            face_box=list(face.box),
            model_version=estimator.version,
            outcome=AgeCheck.Outcome.ADULT if adult else AgeCheck.Outcome.LIKELY_MINOR,
        )
        if not adult:
            check.selfie.save(f"{user.pk}-{uuid.uuid4().hex}.jpg", ContentFile(data), save=False)
        check.save()
        if not adult:
            _age_hold_open(check=check)
    user.age_verification = status
    return check


def _age_hold_open(*, check: AgeCheck) -> None:
    """Explain the hold to the user and put the check in front of a moderator."""
    enforcement = Enforcement.objects.create(
        user_id=check.user_id,
        kind=Enforcement.Kind.AGE_HOLD,
        rule="age_verification",
        **explained(
            gettext_noop(
                "Our age check could not confirm you are an adult. Going live, gifts and games are paused "
                "until a moderator reviews an ID document you upload."
            )
        ),
        model_score=check.estimated_age,
        model_version=check.model_version,
    )
    case = case_open(
        kind=Case.Kind.AGE_REVIEW,
        target_type=Case.TargetType.AGE_CHECK,
        target_id=check.pk,
        subject_id=check.user_id,
        age_check=check,
        summary=f"Selfie estimate {check.estimated_age:.0f} years (below {settings.ADULT_AGE} + margin)",
    )
    Enforcement.objects.filter(pk=enforcement.pk).update(case=case)
    audit_record(
        action=ModerationAction.Action.AGE_HOLD,
        reason="selfie age estimate below the adult line plus the safety margin",
        case=case,
        target_user_id=check.user_id,
        details={"estimated_age": check.estimated_age, "model_version": check.model_version},
    )


def age_id_document_submit(*, user: User, upload: UploadedFile) -> AgeCheck:
    """Attach an ID document (photo of it) to the user's held age check, for the moderator."""
    if user.age_verification != User.AgeVerification.PENDING_REVIEW:
        raise AgeCheckNotAllowed(gettext_lazy("Only an account waiting for age review can upload an ID document."))
    data, _ = image_read_checked(upload, max_bytes=settings.MODERATION_SELFIE_MAX_BYTES)
    with transaction.atomic():
        check = (
            AgeCheck.objects.select_for_update()
            .filter(user=user, outcome=AgeCheck.Outcome.LIKELY_MINOR)
            .order_by("-created_at")
            .first()
        )
        if check is None:
            raise AgeCheckNotAllowed(gettext_lazy("No age check is waiting for a document."))
        old = check.id_document.name
        check.id_document.save(
            f"{user.pk}-{uuid.uuid4().hex}.{image_format(data).lower()}", ContentFile(data), save=False
        )
        check.save(update_fields=["id_document"])
        if old:
            storage, name = check.id_document.storage, old
            transaction.on_commit(lambda: storage.delete(name))
        Case.objects.filter(age_check=check, status=Case.Status.OPEN).update(updated_at=timezone.now())
    return check
