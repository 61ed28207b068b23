"""Live frames: the host's uploads, scoring them in batches, acting on the verdicts, the sweep."""

import io
import logging
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy, gettext_noop

from apps.accounts.exceptions import AccountBanned, AccountInactive
from apps.accounts.models import User
from apps.core import metrics
from apps.core.exceptions import NotFound
from apps.core.storage import storage_read, storage_write_new
from apps.live.stream_status import stream_end_if_active, stream_gifting_pause, stream_host_standing
from apps.moderation.exceptions import NotStreamHost, StreamNotActive
from apps.moderation.explanations import explained
from apps.moderation.images import image_format, image_read_checked
from apps.moderation.model_files import ModelUnavailable
from apps.moderation.models import Case, Enforcement, Frame, ModerationAction
from apps.moderation.selectors import moderation_settings_get
from apps.moderation.services.cases import case_open
from apps.moderation.services.sanctions import audit_record, strikes_apply

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from apps.moderation.classifier import NsfwClassifier

logger = logging.getLogger(__name__)

# Age checks run between two batches once the backlog is full (each costs ~30 ms of face detection).
AGE_CHECKS_BETWEEN_BATCHES = 4


def frame_submit(*, user_id: int, stream_id: int, upload: UploadedFile) -> Frame:
    """Store a frame the host uploaded and queue it for scoring (after commit).

    The request is authenticated from its token alone (every live host uploads every few seconds):
    the host's account is checked here, in the stream's query."""
    stream = stream_host_standing(stream_id=stream_id)
    if stream is None:
        raise NotFound(gettext_lazy("No such stream."))
    if stream.host_id != user_id:
        raise NotStreamHost()
    if not stream.host_is_active:
        raise AccountInactive()
    if stream.host_banned_until is not None and stream.host_banned_until > timezone.now():
        raise AccountBanned.of(User.objects.get(pk=user_id))
    if not stream.is_active:
        raise StreamNotActive()
    data, image = image_read_checked(upload, max_bytes=settings.MODERATION_FRAME_MAX_BYTES)
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[image_format(data)]
    frame = Frame(stream_id=stream_id, host_id=user_id, width=image.width, height=image.height)
    # The name is unique by its uuid: one PUT, no "is the name taken?" round trip first.
    name = frame.image.field.generate_filename(frame, f"{stream_id}-{uuid.uuid4().hex}.{extension}")
    frame.image.name = storage_write_new(frame.image.storage, name, data)
    frame.save()
    if settings.MODERATION_FRAME_HOT_COPY_SECONDS > 0:
        # The worker scores from this copy: no GET of what was just PUT (see _batch_start).
        cache.set(_hot_copy_key(frame), data, settings.MODERATION_FRAME_HOT_COPY_SECONDS)

    from apps.moderation.tasks import frame_score_task

    transaction.on_commit(lambda: frame_score_task.delay(frame.pk))
    return frame


def _hot_copy_key(frame: Frame) -> str:
    """By the stored file's name, unique by its uuid (a frame id can come back after a database restore)."""
    return f"moderation:frame-bytes:{frame.image.name}"


def _claimable(now: datetime) -> Q:
    """Pending frames, and frames a worker claimed longer than the lease ago (it died or hung): a dead
    worker's batch is taken again by the next batch, without waiting for the sweep."""
    lease = timedelta(seconds=settings.MODERATION_CLAIM_LEASE_SECONDS)
    return Q(status=Frame.Status.PENDING) | Q(status=Frame.Status.SCORING, claimed_at__lt=now - lease)


def frames_claim(*, frame_id: int | None, limit: int) -> list[int]:
    """Take the given frame (if still claimable) plus the oldest other claimable ones, up to `limit`,
    for one batch; with frame_id None, just the oldest claimable ones.

    SKIP LOCKED keeps two workers from taking the same frame. Every frame of the batch gets the same
    `claimed_at`, the claim's token: a verdict is recorded only while the frame still carries it (see
    `_claimable` for frames whose worker died).
    """
    now = timezone.now()
    with transaction.atomic():
        own: list[int] = []
        if frame_id is not None:
            own = list(
                Frame.objects.select_for_update(skip_locked=True)
                .filter(_claimable(now), pk=frame_id)
                .values_list("pk", flat=True)
            )
            if not own:
                return []
        others = list(
            Frame.objects.select_for_update(skip_locked=True)
            .filter(_claimable(now), uploaded_at__gte=now - timedelta(minutes=5))
            .exclude(pk__in=own)
            .order_by("uploaded_at")
            .values_list("pk", flat=True)[: max(0, limit - len(own))]
        )
        ids = own + others
        if ids:
            Frame.objects.filter(pk__in=ids).update(status=Frame.Status.SCORING, claimed_at=now)
    return ids


def _batch_window_wait(*, uploaded_at: datetime) -> None:
    """Let a frame younger than settings.MODERATION_BATCH_WINDOW_MS wait out the rest of the window, so
    the frames of other streams arriving meanwhile join its batch. A frame that already waited in the
    queue (a busy worker) is not held any longer."""
    window = settings.MODERATION_BATCH_WINDOW_MS / 1000
    remaining = window - (timezone.now() - uploaded_at).total_seconds()
    if remaining > 0:
        time.sleep(min(remaining, window))


_read_pool: ThreadPoolExecutor | None = None


def _frames_read_pool() -> ThreadPoolExecutor:
    """Threads fetching, decoding and preprocessing a batch's frames while the model scores the previous
    batch (storage round trips, Pillow and the model all release the GIL): made on first use, so a
    prefork child makes its own after the fork."""
    global _read_pool
    if _read_pool is None:
        _read_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="frame-read")
    return _read_pool


class _RecentIds:
    """The last `size` frame ids this process claimed and scored, forgetting the oldest: under load
    a batch's other frames' tasks arrive after it and return without asking the database."""

    def __init__(self, size: int) -> None:
        self._ids: OrderedDict[int, None] = OrderedDict()
        self._size = size

    def __contains__(self, frame_id: object) -> bool:
        return frame_id in self._ids

    def update(self, frame_ids: Iterable[int]) -> None:
        for frame_id in frame_ids:
            self._ids[frame_id] = None
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)


_scored_here = _RecentIds(10_000)


@dataclass
class _Prepared:
    """A frame ready for the model: its input array, and its RGB image when it is sampled for an age check."""

    array: "np.ndarray"
    rgb: "Image.Image | None"


def _frame_prepare(frame: Frame, classifier: "NsfwClassifier", keep_rgb: bool, copy: bytes | None) -> _Prepared | None:
    """The frame decoded and preprocessed (in a read-pool thread) from its hot copy, or else read from
    storage; None when its file is missing or not an image."""
    from PIL import Image

    try:
        data = copy if copy is not None else storage_read(frame.image.storage, frame.image.name)
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")
    except (OSError, ValueError):
        return None
    return _Prepared(array=classifier.preprocess(rgb), rgb=rgb if keep_rgb else None)


@dataclass
class _Batch:
    """A claimed batch whose frames are being read and preprocessed in the read pool."""

    frames: list[Frame]
    claimed_at: datetime | None
    reads: "list[Future[_Prepared | None]]"


def _batch_start(ids: list[int], classifier: "NsfwClassifier") -> _Batch:
    """Load the claimed frames' rows (in this thread: its database session), take their hot copies (the
    API's, see frame_submit; taken once: a rerun reads the bucket) and start reading and preprocessing."""
    frames = list(Frame.objects.filter(pk__in=ids).order_by("uploaded_at"))
    sampled = _age_sampled(frames)
    keys = {frame.pk: _hot_copy_key(frame) for frame in frames}
    copies: dict[str, bytes] = {}
    if settings.MODERATION_FRAME_HOT_COPY_SECONDS > 0 and keys:
        copies = cache.get_many(keys.values())
        if copies:
            cache.delete_many(copies.keys())
    pool = _frames_read_pool()
    reads = [
        pool.submit(_frame_prepare, frame, classifier, frame.pk in sampled, copies.get(keys[frame.pk]))
        for frame in frames
    ]
    return _Batch(frames=frames, claimed_at=frames[0].claimed_at if frames else None, reads=reads)


def frame_score(*, frame_id: int) -> list[Frame]:
    """Score a pending frame, with whatever else is pending, in batches, and act on the verdicts.

    The task claims batches of up to settings.MODERATION_BATCH_MAX frames for as long as frames are
    pending (at most settings.MODERATION_SCORE_LOOP_SECONDS, then other tasks of the queue get their
    turn), and reads the next batch while the model scores the current one: under load the model
    never waits for storage, and the other frames' tasks find their frames already scored.

    Safe to rerun: a frame that is no longer claimable is left alone (one plain read, no transaction:
    under load that is what most tasks find). The model runs outside any transaction; the verdicts
    of a batch are then applied. The sampled age checks wait until no frame is pending (or enough of
    them are due), so they never delay a verdict.
    """
    from apps.moderation.classifier import nsfw_classifier

    if frame_id in _scored_here:
        return []
    uploaded_at = Frame.objects.filter(_claimable(timezone.now()), pk=frame_id).values_list("uploaded_at", flat=True)
    first = uploaded_at.first()
    if first is None:
        return []
    classifier = nsfw_classifier()
    _batch_window_wait(uploaded_at=first)
    ids = frames_claim(frame_id=frame_id, limit=settings.MODERATION_BATCH_MAX)
    if not ids:
        return []
    deadline = time.monotonic() + settings.MODERATION_SCORE_LOOP_SECONDS
    batch: _Batch | None = _batch_start(ids, classifier)
    scored: list[Frame] = []
    age_due: list[tuple[Frame, Image.Image]] = []
    while batch is not None:
        started = time.perf_counter()
        prepared = [read.result() for read in batch.reads]
        read_at = time.perf_counter()
        # The next batch is claimed and read while the model scores this one.
        more = frames_claim(frame_id=None, limit=settings.MODERATION_BATCH_MAX) if time.monotonic() < deadline else []
        following = _batch_start(more, classifier) if more else None
        done, for_age = _batch_score(batch, prepared, classifier)
        scored.extend(done)
        _scored_here.update(frame.pk for frame in batch.frames)
        age_due.extend(for_age)
        scored_at = time.perf_counter()
        # Sampled age checks wait for an idle moment; past the backlog, the oldest few go between batches.
        if following is None:
            # Idle: a few at a time, looking for new frames between them, so a verdict never waits for a
            # backlog of age checks (a phase's first frames are all sampled: 150 streams, 150 checks).
            while age_due and following is None and time.monotonic() < deadline:
                checking, age_due = age_due[:AGE_CHECKS_BETWEEN_BATCHES], age_due[AGE_CHECKS_BETWEEN_BATCHES:]
                _frames_age_check([(frame, rgb) for frame, rgb in checking if frame.status != Frame.Status.BLOCKED])
                more = frames_claim(frame_id=None, limit=settings.MODERATION_BATCH_MAX)
                following = _batch_start(more, classifier) if more else None
            now_due = len(age_due) if following is None else 0
        elif len(age_due) >= settings.MODERATION_FRAME_AGE_BACKLOG:
            now_due = len(age_due) - settings.MODERATION_FRAME_AGE_BACKLOG + AGE_CHECKS_BETWEEN_BATCHES
        else:
            now_due = 0
        checking, age_due = age_due[:now_due], age_due[now_due:]
        _frames_age_check([(frame, rgb) for frame, rgb in checking if frame.status != Frame.Status.BLOCKED])
        timings = {
            "frames": len(batch.frames),
            "wait_read_ms": round((read_at - started) * 1000),
            "model_and_verdicts_ms": round((scored_at - read_at) * 1000),
            "age_ms": round((time.perf_counter() - scored_at) * 1000),
        }
        logger.info("frame batch scored %s", " ".join(f"{k}={v}" for k, v in timings.items()), extra=timings)
        batch = following
    return scored


def _batch_score(
    batch: _Batch, prepared: list[_Prepared | None], classifier: "NsfwClassifier"
) -> tuple[list[Frame], "list[tuple[Frame, Image.Image]]"]:
    """Score a read batch and record its verdicts: the safe ones in one UPDATE, the others one by one.
    Returns the frames that got their verdict, and the sampled ones with their images for the age check."""
    readable: list[tuple[Frame, _Prepared]] = []
    unreadable: list[int] = []
    for frame, ready in zip(batch.frames, prepared, strict=True):
        if ready is None:
            logger.warning("frame unreadable at scoring", extra={"frame_id": frame.pk})
            unreadable.append(frame.pk)
        else:
            readable.append((frame, ready))
    if unreadable:
        Frame.objects.filter(pk__in=unreadable).update(status=Frame.Status.FAILED, scored_at=timezone.now())
    from apps.moderation.classifier import exact_scores_from

    conf = moderation_settings_get()
    arrays = [ready.array for _, ready in readable]
    scores = classifier.score_arrays(arrays, exact_from=exact_scores_from(conf.nsfw_review_threshold)) if arrays else []
    safe = {f.pk: s for (f, _), s in zip(readable, scores, strict=True) if s < conf.nsfw_review_threshold}
    done = {
        frame.pk: frame
        for frame in frames_safe_apply(scores=safe, model_version=classifier.version, claimed_at=batch.claimed_at)
    }
    for (frame, _), score in zip(readable, scores, strict=True):
        if frame.pk not in safe:
            done[frame.pk] = frame_verdict_apply(
                frame_id=frame.pk, score=score, model_version=classifier.version, claimed_at=batch.claimed_at
            )
    for_age = [(done[frame.pk], ready.rgb) for frame, ready in readable if ready.rgb is not None and frame.pk in done]
    return [done[frame.pk] for frame, _ in readable if frame.pk in done], for_age


def _age_sampled(frames: list[Frame]) -> set[int]:
    """The frames that also get an age estimate: every settings.MODERATION_FRAME_AGE_SAMPLE_EVERY-th
    frame of each stream, counted among its stored frames (its first one included). Streams already
    paused for an age review, or cleared by a moderator, are skipped. Two queries for the whole batch."""
    every = settings.MODERATION_FRAME_AGE_SAMPLE_EVERY
    if every <= 0 or not frames:
        return set()
    by_stream: dict[int, list[Frame]] = defaultdict(list)
    for frame in sorted(frames, key=lambda f: f.pk):
        by_stream[frame.stream_id].append(frame)
    settled = set(
        Case.objects.filter(kind=Case.Kind.AGE_FRAME, stream_id__in=by_stream)
        .filter(Q(status=Case.Status.OPEN) | Q(decision=ModerationAction.Action.DISMISS))
        .values_list("stream_id", flat=True)
    )
    counted = [stream_id for stream_id in by_stream if stream_id not in settled]
    if not counted:
        return set()
    earlier = Q()
    for stream_id in counted:
        earlier |= Q(stream_id=stream_id, pk__lt=by_stream[stream_id][0].pk)
    counts = Frame.objects.filter(earlier).order_by().values("stream_id").annotate(n=Count("pk"))
    before = {row["stream_id"]: row["n"] for row in counts}
    sampled: set[int] = set()
    for stream_id in counted:
        offset = before.get(stream_id, 0)
        sampled.update(frame.pk for i, frame in enumerate(by_stream[stream_id]) if (offset + i) % every == 0)
    return sampled


def _frames_age_check(frames: "list[tuple[Frame, Image.Image]]") -> None:
    """Estimate the ages of the faces on sampled frames (outside any transaction) and act on each."""
    if not frames:
        return
    from apps.moderation.age import age_estimator

    try:
        estimator = age_estimator()
    except ModelUnavailable:
        logger.exception("age model unavailable: live frames go without an age estimate")
        return
    for frame, image in frames:
        ages = [face.age for face in estimator.estimate(image)]
        frame_age_verdict_apply(frame_id=frame.pk, ages=ages, model_version=estimator.version)


@transaction.atomic
def frame_age_verdict_apply(*, frame_id: int, ages: list[float], model_version: str) -> Case | None:
    """A face estimated below settings.ADULT_AGE + the safety margin opens a review case for the
    stream (one open per stream) and pauses its gifts until a moderator decides (`case_act`).
    The frame is kept as evidence. None when every face looks adult, or a moderator already cleared
    the stream. Lock order: the frame, the case, then the stream (through live)."""
    conf = moderation_settings_get()
    line = settings.ADULT_AGE + conf.age_safety_margin_years
    young = sorted(age for age in ages if age < line)
    if not young:
        return None
    frame = Frame.objects.select_for_update().get(pk=frame_id)
    cleared = Case.objects.filter(
        kind=Case.Kind.AGE_FRAME, stream_id=frame.stream_id, decision=ModerationAction.Action.DISMISS
    )
    if cleared.exists():
        return None
    if frame.status == Frame.Status.SAFE:
        Frame.objects.filter(pk=frame.pk).update(status=Frame.Status.REVIEW)  # evidence: the sweep keeps it
    case = case_open(
        kind=Case.Kind.AGE_FRAME,
        target_type=Case.TargetType.STREAM,
        target_id=frame.stream_id,
        subject_id=frame.host_id,
        stream_id=frame.stream_id,
        frame=frame,
        model_version=model_version,
        summary=f"Face estimated {young[0]:.0f} years (below {settings.ADULT_AGE} + {conf.age_safety_margin_years})",
    )
    if stream_gifting_pause(stream_id=frame.stream_id, paused=True):
        audit_record(
            action=ModerationAction.Action.GIFTING_PAUSE,
            reason="a face on the stream estimated below the adult line plus the safety margin",
            case=case,
            target_user_id=frame.host_id,
            stream_id=frame.stream_id,
            details={
                "frame_id": frame.pk,
                "estimated_ages": [round(a, 1) for a in young],
                "model_version": model_version,
            },
        )
    return case


@transaction.atomic
def frames_safe_apply(
    *, scores: dict[int, float], model_version: str, claimed_at: datetime | None = None
) -> list[Frame]:
    """Record the verdicts of frames scored below the review threshold: one transaction and one UPDATE
    for the batch (per-frame transactions cost ~4 ms each, a tenth of a burst's time to verdict).

    With `claimed_at` (the batch's claim), a frame another worker re-claimed meanwhile is left to it:
    each frame gets one verdict."""
    if not scores:
        return []
    now = timezone.now()
    unscored = Frame.objects.filter(pk__in=scores, status__in=(Frame.Status.PENDING, Frame.Status.SCORING))
    if claimed_at is not None:
        unscored = unscored.filter(claimed_at=claimed_at)
    frames = list(
        unscored.select_for_update().only("pk", "status", "score", "model_version", "scored_at", "uploaded_at")
    )
    for frame in frames:
        frame.status, frame.score, frame.model_version, frame.scored_at = (
            Frame.Status.SAFE,
            scores[frame.pk],
            model_version,
            now,
        )
    if frames:
        _frames_mark_safe(frames, model_version=model_version, scored_at=now)
    latencies = [(now - frame.uploaded_at).total_seconds() for frame in frames]

    def observe() -> None:
        for seconds in latencies:
            metrics.moderation_verdict(seconds=seconds, verdict=Frame.Status.SAFE)

    transaction.on_commit(observe)
    return frames


def _frames_mark_safe(frames: list[Frame], *, model_version: str, scored_at: datetime) -> None:
    """One UPDATE for the batch, each frame's score joined from two arrays. `bulk_update` builds a
    CASE expression of one WHEN per frame and field through the ORM, several milliseconds of the
    worker's CPU per batch of 16, more than the statement costs PostgreSQL."""
    statement = (  # the table's name from the model's meta, every value a parameter
        f"UPDATE {connection.ops.quote_name(Frame._meta.db_table)} AS frame "  # noqa: S608
        "SET status = %s, score = verdict.score, model_version = %s, scored_at = %s "
        "FROM unnest(%s::bigint[], %s::double precision[]) AS verdict(id, score) WHERE frame.id = verdict.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            [
                Frame.Status.SAFE.value,
                model_version,
                scored_at,
                [frame.pk for frame in frames],
                [frame.score for frame in frames],
            ],
        )


@transaction.atomic
def frame_verdict_apply(
    *, frame_id: int, score: float, model_version: str, claimed_at: datetime | None = None
) -> Frame:
    """Record a frame's score; above review it joins the queue, above block the stream ends with a strike.

    With `claimed_at` (the batch's claim), a frame another worker re-claimed meanwhile is left as it is.

    Lock order: the frame, its case, then the stream (through live), then the host (through accounts).
    """
    conf = moderation_settings_get()
    frame = Frame.objects.select_for_update().get(pk=frame_id)
    if frame.status not in (Frame.Status.PENDING, Frame.Status.SCORING):
        return frame
    if claimed_at is not None and frame.claimed_at != claimed_at:
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
    ended = stream_end_if_active(
        stream_id=frame.stream_id, reason="Ended by moderation: nudity or sexual content", by_moderation=True
    )
    if not ended:
        return  # already ended (an earlier frame of the same batch, the host, a moderator): one strike only
    audit_record(
        action=ModerationAction.Action.END_STREAM,
        reason="NSFW frame above the block threshold",
        case=case,
        target_user_id=frame.host_id,
        stream_id=frame.stream_id,
        details={"frame_id": frame.pk, "score": frame.score, "model_version": frame.model_version},
    )
    Enforcement.objects.create(
        user_id=frame.host_id,
        kind=Enforcement.Kind.STRIKE,
        rule="nsfw_frame",
        **explained(
            gettext_noop(
                "Your stream was ended because a frame looked like nudity or sexual content; this is a strike."
            )
        ),
        stream_id=frame.stream_id,
        frame=frame,
        model_score=frame.score,
        model_version=frame.model_version,
        case=case,
    )
    audit_record(
        action=ModerationAction.Action.STRIKE,
        reason="NSFW frame above the block threshold",
        case=case,
        target_user_id=frame.host_id,
        stream_id=frame.stream_id,
    )
    strikes_apply(host_id=frame.host_id, case=case)


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
