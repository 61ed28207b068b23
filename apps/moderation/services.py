"""Moderation writes: chat filter, frame checks, video checks, age checks, reports, the queue, appeals.

Heavy model code (Keras, OpenCV, dlib, onnxruntime) is imported inside the functions that need
it, so importing this module (the live consumer and reels do) stays cheap.
"""

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import user_ban, user_unban
from apps.core import metrics
from apps.core.exceptions import NotFound
from apps.live.events import room_event_publish, user_sockets_close
from apps.live.models import Stream
from apps.moderation import chatfilter
from apps.moderation.exceptions import (
    ActionNotAllowed,
    AgeCheckNotAllowed,
    AlreadyAppealed,
    AppealNotAllowed,
    CannotReportSelf,
    CaseClosed,
    EnforcementNotFound,
    NoFaceFound,
    NotModerator,
    NotStreamHost,
    ReportTargetNotFound,
    SeveralFaces,
    StreamNotActive,
)
from apps.moderation.images import image_read_checked
from apps.moderation.models import (
    AgeCheck,
    Appeal,
    Case,
    Enforcement,
    Frame,
    ModerationAction,
    Report,
)
from apps.moderation.selectors import (
    SETTINGS_CACHE_KEY,
    WORDS_CACHE_KEY,
    banned_terms,
    moderation_settings_get,
    user_is_moderator,
)
from apps.moderation.types import ChatCheck, VideoVerdict

logger = logging.getLogger(__name__)

CHAT_OFFENCES_KEY = "moderation:chat:offences:{stream_id}:{user_id}"
CHAT_MUTE_KEY = "moderation:chat:mute:{stream_id}:{user_id}"


# --- Caches -------------------------------------------------------------------------------------


def banned_words_cache_clear() -> None:
    """Call after any change to the word list (the admin does)."""
    cache.delete(WORDS_CACHE_KEY)


def moderation_settings_cache_clear() -> None:
    cache.delete(SETTINGS_CACHE_KEY)


# --- Chat filter --------------------------------------------------------------------------------


def chat_mute_until(*, user_id: int, stream_id: int) -> datetime | None:
    until = cache.get(CHAT_MUTE_KEY.format(stream_id=stream_id, user_id=user_id))
    if until is None:
        return None
    until = datetime.fromisoformat(until)
    return until if until > timezone.now() else None


def chat_message_check(*, user_id: int, stream_id: int, text: str) -> ChatCheck:
    """Mask banned words in a room message and mute repeat offenders in that room.

    Every message with a banned word is an offence, counted per (room, user) in the cache over
    the settings' window; the offence that reaches `chat_offences_to_mute` mutes the sender in
    that room for `chat_mute_seconds` (that message included). While muted, allowed is False.
    No database write on the hot path: the word list and settings come from the cache.
    """
    masked, hits = chatfilter.mask(text, banned_terms())
    muted_until = chat_mute_until(user_id=user_id, stream_id=stream_id)
    if muted_until is not None:
        return ChatCheck(text=masked, allowed=False, muted_until=muted_until, reason="muted")
    if hits == 0:
        return ChatCheck(text=masked, allowed=True, muted_until=None, reason="")

    conf = moderation_settings_get()
    key = CHAT_OFFENCES_KEY.format(stream_id=stream_id, user_id=user_id)
    # add() sets the window's expiry once; incr() keeps that expiry (Redis and locmem alike).
    cache.add(key, 0, timeout=conf.chat_offence_window_seconds)
    try:
        offences = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=conf.chat_offence_window_seconds)
        offences = 1
    if offences >= conf.chat_offences_to_mute:
        until = timezone.now() + timedelta(seconds=conf.chat_mute_seconds)
        cache.set(
            CHAT_MUTE_KEY.format(stream_id=stream_id, user_id=user_id),
            until.isoformat(),
            timeout=conf.chat_mute_seconds,
        )
        cache.delete(key)
        _chat_mute_record(user_id=user_id, stream_id=stream_id, text=text, until=until)
        logger.info("chat sender muted", extra={"user_id": user_id, "stream_id": stream_id})
        return ChatCheck(text=masked, allowed=False, muted_until=until, reason="muted")
    return ChatCheck(text=masked, allowed=True, muted_until=None, reason="masked")


def _chat_mute_record(*, user_id: int, stream_id: int, text: str, until: datetime) -> None:
    """Explain a mute to the user (enforcements API) and log it; rare, so a write is fine here."""
    stream = Stream.objects.filter(pk=stream_id).first() if stream_id else None
    with transaction.atomic():
        Enforcement.objects.create(
            user_id=user_id,
            kind=Enforcement.Kind.CHAT_MUTE,
            rule="chat_language",
            explanation="Repeated banned words in chat: you are muted in this room for a while.",
            stream=stream,
            message_text=text[:1000],
            ends_at=until,
        )
        ModerationAction.objects.create(
            action=ModerationAction.Action.MUTE,
            target_user_id=user_id,
            stream=stream,
            reason="repeated banned words",
            details={"stream_id": stream_id, "until": until.isoformat()},
        )


# --- Shared helpers -----------------------------------------------------------------------------


def _audit(
    *,
    action: str,
    reason: str,
    actor: User | None = None,
    case: Case | None = None,
    target_user_id: int | None = None,
    stream_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> ModerationAction:
    return ModerationAction.objects.create(
        actor=actor,
        action=action,
        case=case,
        target_user_id=target_user_id,
        stream_id=stream_id,
        reason=reason[:500],
        details=details or {},
    )


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


def _user_suspend(*, user: User, days: int | None, reason: str) -> None:
    """Ban (days None = permanently), close every socket and end any live stream of the user."""
    user_ban(user=user, days=days, reason=reason)
    user_sockets_close(user_id=user.pk, reason="banned")
    from apps.live.services import stream_end

    for stream_id in Stream.objects.filter(host=user, status__in=Stream.ACTIVE_STATUSES).values_list("pk", flat=True):
        stream_end(stream_id=stream_id, reason="host suspended by moderation", by_moderation=True)


def _strikes_apply(*, host: User, case: Case | None) -> Enforcement | None:
    """Suspend the host when their live strikes within the window reach the limit."""
    conf = moderation_settings_get()
    since = timezone.now() - timedelta(days=conf.strike_window_days)
    strikes = Enforcement.objects.filter(
        user=host, kind=Enforcement.Kind.STRIKE, created_at__gte=since, revoked_at__isnull=True
    ).count()
    if strikes < conf.strikes_to_suspend:
        return None
    reason = f"{strikes} strikes within {conf.strike_window_days} days"
    host = User.objects.select_for_update().get(pk=host.pk)
    _user_suspend(user=host, days=conf.suspension_days, reason=reason)
    enforcement = Enforcement.objects.create(
        user=host,
        kind=Enforcement.Kind.SUSPENSION,
        rule="repeated_strikes",
        explanation=f"Suspended for {conf.suspension_days} days: {reason}.",
        case=case,
        ends_at=host.banned_until,
    )
    _audit(
        action=ModerationAction.Action.SUSPEND,
        reason=reason,
        case=case,
        target_user_id=host.pk,
        details={"days": conf.suspension_days, "strikes": strikes},
    )
    return enforcement


# --- Live frames --------------------------------------------------------------------------------


def frame_submit(*, user: User, stream_id: int, upload: UploadedFile) -> Frame:
    """Store a frame the host uploaded and queue it for scoring (after commit)."""
    stream = Stream.objects.filter(pk=stream_id).only("pk", "host_id", "status").first()
    if stream is None:
        raise NotFound("No such stream.")
    if stream.host_id != user.pk:
        raise NotStreamHost()
    if stream.status not in Stream.ACTIVE_STATUSES:
        raise StreamNotActive()
    data, image = image_read_checked(upload, max_bytes=settings.MODERATION_FRAME_MAX_BYTES)
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[_format_of(data)]
    frame = Frame(stream_id=stream.pk, host_id=user.pk, width=image.width, height=image.height)
    frame.image.save(f"{stream.pk}-{uuid.uuid4().hex}.{extension}", ContentFile(data), save=False)
    frame.save()

    from apps.moderation.tasks import frame_score_task

    transaction.on_commit(lambda: frame_score_task.delay(frame.pk))
    return frame


def _format_of(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    return "WEBP"


def frames_claim(*, frame_id: int, limit: int) -> list[int]:
    """Take the given frame plus the oldest other pending ones (up to `limit`) for one batch.

    Under load one task scores a whole batch and the tasks of the frames it took find them
    already claimed; SKIP LOCKED keeps two workers from taking the same frame.
    """
    # Under a burst most tasks find their frame already taken by an earlier batch: one plain read
    # settles that without a transaction and row locks (it was ~40 of every 50 tasks in a burst).
    if not Frame.objects.filter(pk=frame_id, status=Frame.Status.PENDING).exists():
        return []
    now = timezone.now()
    with transaction.atomic():
        own = list(
            Frame.objects.select_for_update(skip_locked=True)
            .filter(pk=frame_id, status=Frame.Status.PENDING)
            .values_list("pk", flat=True)
        )
        if not own:
            return []
        others = list(
            Frame.objects.select_for_update(skip_locked=True)
            .filter(status=Frame.Status.PENDING, uploaded_at__gte=now - timedelta(minutes=5))
            .exclude(pk=frame_id)
            .order_by("uploaded_at")
            .values_list("pk", flat=True)[: max(0, limit - 1)]
        )
        ids = own + others
        Frame.objects.filter(pk__in=ids).update(status=Frame.Status.SCORING, claimed_at=now)
    return ids


def frame_score(*, frame_id: int) -> list[Frame]:
    """Score a pending frame (and whatever else is pending, as one batch) and act on the verdicts.

    Safe to rerun: a frame that is no longer pending is left alone. The model runs outside any
    transaction; each verdict is then applied in its own.
    """
    from apps.moderation.classifier import nsfw_classifier

    classifier = nsfw_classifier()
    ids = frames_claim(frame_id=frame_id, limit=classifier.batch_size)
    if not ids:
        return []
    frames = list(Frame.objects.filter(pk__in=ids).order_by("uploaded_at"))
    arrays, readable = [], []
    for frame in frames:
        try:
            from PIL import Image

            with frame.image.open("rb") as fh, Image.open(fh) as image:
                arrays.append(classifier.preprocess(image.convert("RGB")))
            readable.append(frame)
        except (OSError, ValueError):
            logger.warning("frame unreadable at scoring", extra={"frame_id": frame.pk})
            Frame.objects.filter(pk=frame.pk).update(status=Frame.Status.FAILED, scored_at=timezone.now())
    scores = classifier.score_arrays(arrays) if arrays else []
    conf = moderation_settings_get()
    safe = {f.pk: s for f, s in zip(readable, scores, strict=True) if s < conf.nsfw_review_threshold}
    done = {frame.pk: frame for frame in frames_safe_apply(scores=safe, model_version=classifier.version)}
    for frame, score in zip(readable, scores, strict=True):
        if frame.pk not in safe:
            done[frame.pk] = frame_verdict_apply(frame_id=frame.pk, score=score, model_version=classifier.version)
    return [done[frame.pk] for frame in readable if frame.pk in done]


@transaction.atomic
def frames_safe_apply(*, scores: dict[int, float], model_version: str) -> list[Frame]:
    """Record the verdicts of frames scored below the review threshold: one transaction and one UPDATE
    for the batch (per-frame transactions cost ~4 ms each, a tenth of a burst's time to verdict)."""
    if not scores:
        return []
    now = timezone.now()
    frames = list(
        Frame.objects.select_for_update()
        .filter(pk__in=scores, status__in=(Frame.Status.PENDING, Frame.Status.SCORING))
        .only("pk", "status", "score", "model_version", "scored_at", "uploaded_at")
    )
    for frame in frames:
        frame.status, frame.score, frame.model_version, frame.scored_at = (
            Frame.Status.SAFE,
            scores[frame.pk],
            model_version,
            now,
        )
    Frame.objects.bulk_update(frames, ["status", "score", "model_version", "scored_at"])
    latencies = [(now - frame.uploaded_at).total_seconds() for frame in frames]

    def observe() -> None:
        for seconds in latencies:
            metrics.moderation_verdict(seconds=seconds, verdict=Frame.Status.SAFE)

    transaction.on_commit(observe)
    return frames


@transaction.atomic
def frame_verdict_apply(*, frame_id: int, score: float, model_version: str) -> Frame:
    """Record a frame's score; above review it joins the queue, above block the stream ends with a strike."""
    conf = moderation_settings_get()
    frame = Frame.objects.select_for_update().select_related("stream", "host").get(pk=frame_id)
    if frame.status not in (Frame.Status.PENDING, Frame.Status.SCORING):
        return frame
    if score >= conf.nsfw_block_threshold:
        frame.status = Frame.Status.BLOCKED
    elif score >= conf.nsfw_review_threshold:
        frame.status = Frame.Status.REVIEW
    else:
        frame.status = Frame.Status.SAFE
    frame.score, frame.model_version, frame.scored_at = score, model_version, timezone.now()
    frame.save(update_fields=["status", "score", "model_version", "scored_at"])
    verdict, latency = frame.status, (frame.scored_at - frame.uploaded_at).total_seconds()
    transaction.on_commit(lambda: metrics.moderation_verdict(seconds=latency, verdict=verdict))
    if frame.status == Frame.Status.SAFE:
        return frame

    blocked = frame.status == Frame.Status.BLOCKED
    case = case_open(
        kind=Case.Kind.FRAME,
        target_type=Case.TargetType.STREAM,
        target_id=frame.stream_id,
        subject_id=frame.host_id,
        stream_id=frame.stream_id,
        frame=frame,
        score=score,
        model_version=model_version,
        summary=("Stream ended automatically: " if blocked else "Frame flagged: ") + f"NSFW score {score:.2f}",
    )
    if not blocked:
        return frame
    _frame_block(frame=frame, case=case)
    return frame


def _frame_block(*, frame: Frame, case: Case) -> None:
    from apps.live.services import stream_end

    stream = Stream.objects.select_for_update().get(pk=frame.stream_id)
    if stream.status not in Stream.ACTIVE_STATUSES:
        return  # already ended (an earlier frame of the same batch, the host, a moderator): one strike only
    stream_end(stream_id=stream.pk, reason="Ended by moderation: nudity or sexual content", by_moderation=True)
    _audit(
        action=ModerationAction.Action.END_STREAM,
        reason="NSFW frame above the block threshold",
        case=case,
        target_user_id=frame.host_id,
        stream_id=stream.pk,
        details={"frame_id": frame.pk, "score": frame.score, "model_version": frame.model_version},
    )
    Enforcement.objects.create(
        user_id=frame.host_id,
        kind=Enforcement.Kind.STRIKE,
        rule="nsfw_frame",
        explanation="Your stream was ended because a frame looked like nudity or sexual content; this is a strike.",
        stream=stream,
        frame=frame,
        model_score=frame.score,
        model_version=frame.model_version,
        case=case,
    )
    _audit(
        action=ModerationAction.Action.STRIKE,
        reason="NSFW frame above the block threshold",
        case=case,
        target_user_id=frame.host_id,
        stream_id=stream.pk,
    )
    _strikes_apply(host=frame.host, case=case)


def frames_sweep() -> dict[str, int]:
    """Delete safe frames past retention (flagged ones stay as evidence); requeue frames a worker lost."""
    from apps.moderation.tasks import frame_score_task

    conf = moderation_settings_get()
    now = timezone.now()
    deleted = 0
    old = Frame.objects.filter(
        status=Frame.Status.SAFE, uploaded_at__lt=now - timedelta(hours=conf.safe_frame_retention_hours)
    )
    for frame in old.iterator(chunk_size=500):
        frame.image.delete(save=False)
        frame.delete()
        deleted += 1
    stuck = list(
        Frame.objects.filter(
            Q(status=Frame.Status.SCORING, claimed_at__lt=now - timedelta(minutes=2))
            | Q(status=Frame.Status.PENDING, uploaded_at__lt=now - timedelta(minutes=2))
        ).values_list("pk", flat=True)[:1000]
    )
    Frame.objects.filter(pk__in=stuck).update(status=Frame.Status.PENDING)
    for frame_id in stuck:
        frame_score_task.delay(frame_id)
    return {"deleted": deleted, "requeued": len(stuck)}


# --- Reels --------------------------------------------------------------------------------------


def video_check(*, path: str) -> VideoVerdict:
    """Sample a video's frames (settings: rate and cap), score them in batches, publish or reject.

    A reel is rejected when any sampled frame reaches the review threshold (nothing is live, so
    the stricter line costs only a re-upload), or when no frame decodes.
    """
    import cv2
    from PIL import Image

    from apps.moderation.classifier import nsfw_classifier

    conf = moderation_settings_get()
    classifier = nsfw_classifier()
    capture = cv2.VideoCapture(path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(fps / conf.video_sample_fps)) if conf.video_sample_fps > 0 else 1
        arrays, times, index = [], [], 0
        while len(arrays) < conf.video_max_frames and capture.grab():
            if index % step == 0:
                ok, bgr = capture.retrieve()
                if ok:
                    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                    arrays.append(classifier.preprocess(Image.fromarray(rgb)))
                    times.append(index / fps)
            index += 1
    finally:
        capture.release()
    if not arrays:
        return VideoVerdict(
            publish=False,
            reason="The video could not be decoded.",
            max_score=0.0,
            model_version=classifier.version,
            frames_scored=0,
        )
    scores = classifier.score_arrays(arrays)
    worst = max(range(len(scores)), key=scores.__getitem__)
    max_score = scores[worst]
    publish = max_score < conf.nsfw_review_threshold
    reason = "" if publish else f"Nudity or sexual content detected at {times[worst]:.1f} s."
    return VideoVerdict(
        publish=publish,
        reason=reason,
        max_score=max_score,
        model_version=classifier.version,
        frames_scored=len(scores),
        max_score_at_seconds=round(times[worst], 2),
    )


# --- Age verification ---------------------------------------------------------------------------


def age_verification_submit(*, user: User, upload: UploadedFile) -> AgeCheck:
    """Estimate the age on a selfie. Clearly adult: verified. Possibly a minor: held for a moderator.

    Only an unverified account may submit (a held one cannot retry its way out: the moderator
    decides after seeing an ID document).
    """
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
    conf = moderation_settings_get()
    adult = face.age >= settings.ADULT_AGE + conf.age_safety_margin_years
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.age_verification != User.AgeVerification.UNVERIFIED:
            raise AgeCheckNotAllowed(details={"age_verification": locked.age_verification})
        check = AgeCheck(
            user=locked,
            estimated_age=round(face.age, 1),
            face_box=list(face.box),
            model_version=estimator.version,
            outcome=AgeCheck.Outcome.ADULT if adult else AgeCheck.Outcome.LIKELY_MINOR,
        )
        if not adult:
            check.selfie.save(f"{locked.pk}-{uuid.uuid4().hex}.jpg", ContentFile(data), save=False)
        check.save()
        locked.age_verification = User.AgeVerification.VERIFIED if adult else User.AgeVerification.PENDING_REVIEW
        locked.save(update_fields=["age_verification"])
        if not adult:
            enforcement = Enforcement.objects.create(
                user=locked,
                kind=Enforcement.Kind.AGE_HOLD,
                rule="age_verification",
                explanation=(
                    "Our age check could not confirm you are an adult. Going live, gifts and games are paused "
                    "until a moderator reviews an ID document you upload."
                ),
                model_score=check.estimated_age,
                model_version=check.model_version,
            )
            case = case_open(
                kind=Case.Kind.AGE_REVIEW,
                target_type=Case.TargetType.AGE_CHECK,
                target_id=check.pk,
                subject_id=locked.pk,
                age_check=check,
                summary=f"Selfie estimate {check.estimated_age:.0f} years (below {settings.ADULT_AGE} + margin)",
            )
            Enforcement.objects.filter(pk=enforcement.pk).update(case=case)
            _audit(
                action=ModerationAction.Action.AGE_HOLD,
                reason="selfie age estimate below the adult line plus the safety margin",
                case=case,
                target_user_id=locked.pk,
                details={"estimated_age": check.estimated_age, "model_version": check.model_version},
            )
            _end_live_streams(user_id=locked.pk, reason="Age verification pending")
    user.age_verification = locked.age_verification
    return check


def _end_live_streams(*, user_id: int, reason: str) -> None:
    from apps.live.services import stream_end

    for stream_id in Stream.objects.filter(host_id=user_id, status__in=Stream.ACTIVE_STATUSES).values_list(
        "pk", flat=True
    ):
        stream_end(stream_id=stream_id, reason=reason, by_moderation=True)


def age_id_document_submit(*, user: User, upload: UploadedFile) -> AgeCheck:
    """Attach an ID document (photo of it) to the user's held age check, for the moderator."""
    if user.age_verification != User.AgeVerification.PENDING_REVIEW:
        raise AgeCheckNotAllowed("Only an account waiting for age review can upload an ID document.")
    data, _ = image_read_checked(upload, max_bytes=settings.MODERATION_SELFIE_MAX_BYTES)
    with transaction.atomic():
        check = (
            AgeCheck.objects.select_for_update()
            .filter(user=user, outcome=AgeCheck.Outcome.LIKELY_MINOR)
            .order_by("-created_at")
            .first()
        )
        if check is None:
            raise AgeCheckNotAllowed("No age check is waiting for a document.")
        old = check.id_document.name
        check.id_document.save(
            f"{user.pk}-{uuid.uuid4().hex}.{_format_of(data).lower()}", ContentFile(data), save=False
        )
        check.save(update_fields=["id_document"])
        if old:
            storage, name = check.id_document.storage, old
            transaction.on_commit(lambda: storage.delete(name))
        Case.objects.filter(age_check=check, status=Case.Status.OPEN).update(updated_at=timezone.now())
    return check


# --- Reports ------------------------------------------------------------------------------------


def _report_target(
    *, reporter: User, target_type: str, target_id: int, stream_id: int | None, author_id: int | None
) -> tuple[str, int, int | None]:
    """Resolve what is reported into (case target id, subject user id, stream id)."""
    if target_type == Case.TargetType.STREAM:
        stream = Stream.objects.filter(pk=target_id).only("pk", "host_id").first()
        if stream is None:
            raise ReportTargetNotFound()
        return str(stream.pk), stream.host_id, stream.pk
    if target_type == Case.TargetType.USER:
        if not User.objects.filter(pk=target_id).exists():
            raise ReportTargetNotFound()
        return str(target_id), target_id, None
    if target_type == Case.TargetType.REEL:
        from apps.reels.models import Reel

        author = Reel.objects.filter(pk=target_id).values_list("author_id", flat=True).first()
        if author is None:
            raise ReportTargetNotFound()
        return str(target_id), author, None
    if target_type == Case.TargetType.CHAT_MESSAGE:
        # Chat is not stored: the case is the author's messages in that room, each report quotes one.
        if stream_id is None or author_id is None:
            raise ReportTargetNotFound("A chat report needs the stream and the message's author.")
        if not Stream.objects.filter(pk=stream_id).exists() or not User.objects.filter(pk=author_id).exists():
            raise ReportTargetNotFound()
        return f"{stream_id}:{author_id}", author_id, stream_id
    raise ReportTargetNotFound()


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
        reporter=reporter, target_type=target_type, target_id=target_id, stream_id=stream_id, author_id=author_id
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


# --- Moderator actions --------------------------------------------------------------------------

GENERAL_ACTIONS = {
    ModerationAction.Action.DISMISS,
    ModerationAction.Action.WARN,
    ModerationAction.Action.END_STREAM,
    ModerationAction.Action.SUSPEND,
    ModerationAction.Action.BAN,
}
ACTIONS_BY_KIND = {
    Case.Kind.FRAME: GENERAL_ACTIONS,
    Case.Kind.REPORT: GENERAL_ACTIONS,
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
    Age reviews: age_approve / age_reject. Appeals: appeal_uphold / appeal_overturn (lifts it).
    """
    if not user_is_moderator(actor):
        raise NotModerator()
    reason = (reason or "").strip()
    if not reason:
        raise ActionNotAllowed("Say why: the reason goes to the audit log.", details={"reason": ["Required."]})
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("subject", "frame", "enforcement")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise ReportTargetNotFound("No such case.")
    if case.status != Case.Status.OPEN:
        raise CaseClosed()
    if action not in ACTIONS_BY_KIND.get(case.kind, set()):
        raise ActionNotAllowed(details={"allowed": sorted(ACTIONS_BY_KIND.get(case.kind, set()))})
    subject = User.objects.select_for_update().get(pk=case.subject_id) if case.subject_id else None
    evidence = {
        "frame": case.frame,
        "model_score": case.score,
        "model_version": case.model_version,
        "message_text": case.reports.exclude(message_text="").values_list("message_text", flat=True).first() or "",
    }
    details: dict[str, Any] = {}
    A = ModerationAction.Action

    if action == A.WARN:
        _enforce(subject, Enforcement.Kind.WARNING, case, f"Warning from a moderator: {reason}", evidence)
        if case.stream_id and Stream.objects.filter(pk=case.stream_id, status=Stream.Status.LIVE).exists():
            room_event_publish(
                stream_id=case.stream_id,
                event_type="moderation.warning",
                payload={"stream_id": case.stream_id, "user_id": subject.pk, "message": reason},
            )
    elif action == A.END_STREAM:
        from apps.live.services import stream_end

        stream_id = case.stream_id or (
            Stream.objects.filter(host=subject, status__in=Stream.ACTIVE_STATUSES).values_list("pk", flat=True).first()
        )
        if stream_id is None:
            raise ActionNotAllowed("This case has no stream to end.")
        stream_end(stream_id=stream_id, reason=f"Ended by moderation: {reason}", by_moderation=True)
        _enforce(subject, Enforcement.Kind.STREAM_ENDED, case, f"A moderator ended your stream: {reason}", evidence)
        details["stream_id"] = stream_id
    elif action == A.SUSPEND:
        if not days or days < 1:
            raise ActionNotAllowed("Give the number of days.", details={"days": ["A positive number is required."]})
        _user_suspend(user=subject, days=days, reason=reason)
        _enforce(
            subject,
            Enforcement.Kind.SUSPENSION,
            case,
            f"Suspended for {days} days: {reason}",
            evidence,
            ends_at=subject.banned_until,
        )
        details["days"] = days
    elif action == A.BAN:
        _user_suspend(user=subject, days=None, reason=reason)
        _enforce(subject, Enforcement.Kind.BAN, case, f"Banned: {reason}", evidence)
    elif action in (A.AGE_APPROVE, A.AGE_REJECT):
        approved = action == A.AGE_APPROVE
        subject.age_verification = User.AgeVerification.VERIFIED if approved else User.AgeVerification.REJECTED
        subject.save(update_fields=["age_verification"])
        if approved:
            Enforcement.objects.filter(user=subject, kind=Enforcement.Kind.AGE_HOLD, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
    elif action in (A.APPEAL_UPHOLD, A.APPEAL_OVERTURN):
        _appeal_decide(actor=actor, case=case, overturn=action == A.APPEAL_OVERTURN, note=reason)

    case.status, case.decided_at, case.decided_by, case.decision = Case.Status.RESOLVED, timezone.now(), actor, action
    case.save(update_fields=["status", "decided_at", "decided_by", "decision", "updated_at"])
    _audit(
        actor=actor,
        action=action,
        reason=reason,
        case=case,
        target_user_id=subject.pk if subject else None,
        stream_id=case.stream_id,
        details=details,
    )
    logger.info("moderation case decided", extra={"case_id": case.pk, "action": action, "actor_id": actor.pk})
    return case


def _enforce(
    user: User, kind: str, case: Case, explanation: str, evidence: dict[str, Any], ends_at: datetime | None = None
) -> Enforcement:
    return Enforcement.objects.create(
        user=user,
        kind=kind,
        rule="frame_review" if case.kind == Case.Kind.FRAME else f"report_{case.target_type}",
        explanation=explanation[:500],
        stream_id=case.stream_id,
        frame=evidence["frame"],
        message_text=evidence["message_text"],
        model_score=evidence["model_score"],
        model_version=evidence["model_version"],
        case=case,
        ends_at=ends_at,
    )


# --- Appeals ------------------------------------------------------------------------------------


@transaction.atomic
def appeal_create(*, user: User, enforcement_id: int, text: str) -> Appeal:
    """Appeal one's own enforcement, once; the appeal joins the moderator queue."""
    enforcement = Enforcement.objects.select_for_update().filter(pk=enforcement_id, user=user).first()
    if enforcement is None:
        raise EnforcementNotFound()
    if enforcement.kind == Enforcement.Kind.AGE_HOLD:
        raise AppealNotAllowed("Age holds are lifted by uploading an ID document for review.")
    if enforcement.revoked_at is not None:
        raise AppealNotAllowed("This enforcement was already lifted.")
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


def _appeal_decide(*, actor: User, case: Case, overturn: bool, note: str) -> None:
    appeal = Appeal.objects.select_for_update().get(enforcement_id=case.enforcement_id)
    appeal.status = Appeal.Status.OVERTURNED if overturn else Appeal.Status.UPHELD
    appeal.decided_at, appeal.decided_by, appeal.outcome_note = timezone.now(), actor, note[:500]
    appeal.save(update_fields=["status", "decided_at", "decided_by", "outcome_note"])
    if not overturn:
        return
    enforcement = case.enforcement
    enforcement.revoked_at = timezone.now()
    enforcement.save(update_fields=["revoked_at"])
    if enforcement.kind in (Enforcement.Kind.SUSPENSION, Enforcement.Kind.BAN):
        still_banned = Enforcement.objects.filter(
            user_id=enforcement.user_id,
            kind__in=[Enforcement.Kind.SUSPENSION, Enforcement.Kind.BAN],
            revoked_at__isnull=True,
        ).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=timezone.now()))
        if not still_banned.exists():
            user_unban(user=User.objects.select_for_update().get(pk=enforcement.user_id))
    elif enforcement.kind == Enforcement.Kind.CHAT_MUTE and enforcement.stream_id:
        cache.delete(CHAT_MUTE_KEY.format(stream_id=enforcement.stream_id, user_id=enforcement.user_id))
