"""Live frames in batches: the batching window, the batch size, two workers taking frames from the same
pending pool on PostgreSQL (each frame scored once, none lost), and a dead worker's claim taken again."""

import io
import random
import threading
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone
from PIL import Image

from apps.live.models import Stream
from apps.moderation import services
from apps.moderation.models import Case, Frame
from apps.moderation.selectors import moderation_settings_get
from tests.live.factories import LiveStreamFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _batches(settings):
    settings.MODERATION_BATCH_WINDOW_MS = 0
    settings.MODERATION_BATCH_MAX = 16
    settings.MODERATION_CLAIM_LEASE_SECONDS = 30
    conf = moderation_settings_get()
    conf.nsfw_review_threshold, conf.nsfw_block_threshold = 0.9, 0.95  # a grey still is safe
    conf.save()
    services.moderation_settings_cache_clear()


def _frame(stream: Stream, **fields) -> Frame:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (random.randrange(256), 120, 120)).save(buffer, format="JPEG")  # noqa: S311
    frame = Frame(stream=stream, host_id=stream.host_id, width=96, height=64, **fields)
    frame.image.save("batch.jpg", ContentFile(buffer.getvalue()), save=False)
    frame.save()
    return frame


class _Worker(threading.Thread):
    """A worker process's loop in its own database session: runs the task of every frame id it is given."""

    def __init__(self, frame_ids: list[int], start: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.frame_ids, self.start_together = frame_ids, start
        self.scored: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.start_together.wait(10)
            for frame_id in self.frame_ids:
                self.scored.extend(frame.pk for frame in services.frame_score(frame_id=frame_id))
        except BaseException as exc:  # handed to the test
            self.error = exc
        finally:
            connection.close()


def test_two_workers_score_every_frame_once_and_lose_none(settings):
    # given 48 frames of 12 streams waiting, batches of at most 4, and every task delivered to both
    # workers (each in its own order: a redelivery, or two workers racing the same pool)
    settings.MODERATION_BATCH_MAX = 4
    streams = [LiveStreamFactory() for _ in range(12)]
    services.frame_score(frame_id=_frame(streams[0]).pk)  # the model loaded before the race starts
    ids = [_frame(streams[i % 12]).pk for i in range(48)]
    start = threading.Barrier(2)
    workers = [_Worker(ids, start), _Worker(list(reversed(ids)), start)]
    # when both run at once
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    # then no frame was scored by both, every frame has its one verdict, and both did share the work
    assert all(worker.error is None for worker in workers), [worker.error for worker in workers]
    first, second = (set(worker.scored) for worker in workers)
    assert len(first) == len(workers[0].scored) and len(second) == len(workers[1].scored)
    assert not first & second
    assert first | second == set(ids)
    assert first and second
    assert set(Frame.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Frame.Status.SAFE}
    assert Frame.objects.filter(pk__in=ids, scored_at__isnull=False, score__isnull=False).count() == 48


def test_a_batch_takes_at_most_batch_max_frames_and_the_task_goes_on_while_frames_are_pending(settings):
    # given five frames waiting and batches of two
    settings.MODERATION_BATCH_MAX = 2
    stream = LiveStreamFactory()
    ids = [_frame(stream).pk for _ in range(5)]
    # when the first frame's task runs
    scored = services.frame_score(frame_id=ids[0])
    # then it scored all five, oldest first, in claims of at most two frames each
    assert [frame.pk for frame in scored] == ids
    claims = Frame.objects.filter(pk__in=ids).values_list("claimed_at", flat=True)
    assert sorted(list(claims).count(claim) for claim in set(claims)) == [1, 2, 2]
    assert set(Frame.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Frame.Status.SAFE}


def test_the_task_stops_claiming_when_its_time_is_up(settings):
    # given five frames waiting, batches of two, and no time for a second batch
    settings.MODERATION_BATCH_MAX = 2
    settings.MODERATION_SCORE_LOOP_SECONDS = 0
    stream = LiveStreamFactory()
    ids = [_frame(stream).pk for _ in range(5)]
    # when the first frame's task runs
    scored = services.frame_score(frame_id=ids[0])
    # then it scored its own frame and the oldest other one; the rest wait for their own tasks
    assert [frame.pk for frame in scored] == ids[:2]
    assert Frame.objects.filter(pk__in=ids[2:], status=Frame.Status.PENDING).count() == 3


def test_a_fresh_frame_waits_out_the_window_and_frames_arriving_meanwhile_join_its_batch(settings):
    # given a batching window of 3 s (wide: a loaded machine can be slow to store the other frames)
    # and a frame just uploaded
    services.frame_score(frame_id=_frame(LiveStreamFactory()).pk)  # the model loaded first
    settings.MODERATION_BATCH_WINDOW_MS = 3000
    streams = [LiveStreamFactory() for _ in range(3)]
    first = _frame(streams[0])
    later: list[int] = []

    def other_streams_upload() -> None:
        try:
            time.sleep(0.2)
            later.extend(_frame(stream).pk for stream in streams[1:])
        finally:
            connection.close()

    uploader = threading.Thread(target=other_streams_upload, daemon=True)
    # when its task runs while two other streams upload 0.2 s later
    uploader.start()
    scored = services.frame_score(frame_id=first.pk)
    uploader.join(10)
    # then the three frames were scored as one batch
    assert sorted(frame.pk for frame in scored) == sorted([first.pk, *later]) and len(later) == 2
    assert Frame.objects.filter(pk__in=[first.pk, *later]).values("claimed_at").distinct().count() == 1


def test_a_frame_that_already_waited_is_not_held_by_the_window(settings):
    # given a window of 3 s and a frame that has waited in the queue for 5 s
    services.frame_score(frame_id=_frame(LiveStreamFactory()).pk)  # the model loaded first
    settings.MODERATION_BATCH_WINDOW_MS = 3000
    frame = _frame(LiveStreamFactory())
    Frame.objects.filter(pk=frame.pk).update(uploaded_at=timezone.now() - timedelta(seconds=5))
    # when its task runs
    started = time.monotonic()
    scored = services.frame_score(frame_id=frame.pk)
    # then it is scored at once
    assert [f.pk for f in scored] == [frame.pk] and time.monotonic() - started < 2


def test_the_frames_of_a_worker_that_died_after_claiming_are_claimed_again():
    # given a frame a worker claimed 60 s ago and never scored (it died), one claimed 5 s ago by a
    # worker still busy with it, and a new upload
    stream = LiveStreamFactory()
    dead = _frame(stream, status=Frame.Status.SCORING, claimed_at=timezone.now() - timedelta(seconds=60))
    busy = _frame(stream, status=Frame.Status.SCORING, claimed_at=timezone.now() - timedelta(seconds=5))
    new = _frame(stream)
    # when the new frame's task runs
    scored = services.frame_score(frame_id=new.pk)
    # then the dead worker's frame is scored in its batch, the busy worker's frame is left to it
    assert sorted(frame.pk for frame in scored) == sorted([dead.pk, new.pk])
    assert Frame.objects.get(pk=dead.pk).status == Frame.Status.SAFE
    assert Frame.objects.get(pk=busy.pk).status == Frame.Status.SCORING


def test_the_redelivered_task_of_a_worker_that_died_scores_its_frame():
    # given a frame whose worker died after claiming it (its task, acknowledged late, is delivered again)
    frame = _frame(LiveStreamFactory(), status=Frame.Status.SCORING, claimed_at=timezone.now() - timedelta(seconds=60))
    # when the task runs again
    scored = services.frame_score(frame_id=frame.pk)
    # then the frame gets its verdict
    assert [f.pk for f in scored] == [frame.pk]
    assert Frame.objects.get(pk=frame.pk).status == Frame.Status.SAFE


def test_a_late_worker_whose_frames_were_claimed_again_records_no_verdict():
    # given a frame claimed by a worker that hung past the lease, then claimed again by another batch
    stream = LiveStreamFactory()
    first_claim = timezone.now() - timedelta(seconds=60)
    frame = _frame(stream, status=Frame.Status.SCORING, claimed_at=first_claim)
    flagged = _frame(stream, status=Frame.Status.SCORING, claimed_at=first_claim)
    second_claim = timezone.now()
    Frame.objects.filter(pk__in=[frame.pk, flagged.pk]).update(claimed_at=second_claim)
    # when the hung worker wakes and records its verdicts under its old claim
    safe = services.frames_safe_apply(scores={frame.pk: 0.01}, model_version="late", claimed_at=first_claim)
    services.frame_verdict_apply(frame_id=flagged.pk, score=0.99, model_version="late", claimed_at=first_claim)
    # then nothing is written: the frames wait for the batch that holds them now
    assert safe == []
    assert set(Frame.objects.filter(pk__in=[frame.pk, flagged.pk]).values_list("status", flat=True)) == {
        Frame.Status.SCORING
    }
    assert not Case.objects.filter(frame=flagged).exists()
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.LIVE
    # and the batch holding them records them
    assert [
        f.pk for f in services.frames_safe_apply(scores={frame.pk: 0.01}, model_version="v", claimed_at=second_claim)
    ] == [frame.pk]


def test_a_batchs_safe_verdicts_each_keep_their_own_score_and_leave_other_frames_alone():
    # given three frames of one batch's claim, one frame of another claim and one already scored
    stream = LiveStreamFactory()
    claim = timezone.now()
    batch = [_frame(stream, status=Frame.Status.SCORING, claimed_at=claim) for _ in range(3)]
    other = _frame(stream, status=Frame.Status.SCORING, claimed_at=claim - timedelta(seconds=1))
    done = _frame(stream, status=Frame.Status.REVIEW, score=0.7, model_version="earlier")
    scores = {batch[0].pk: 0.011, batch[1].pk: 0.022, batch[2].pk: 0.033, other.pk: 0.044, done.pk: 0.055}
    # when the batch's safe verdicts are recorded in one statement
    recorded = services.frames_safe_apply(scores=scores, model_version="v-batch", claimed_at=claim)
    # then each of the batch's frames has its own score, the version and one scored_at
    assert sorted(f.pk for f in recorded) == sorted(f.pk for f in batch)
    rows = {f.pk: f for f in Frame.objects.filter(pk__in=scores)}
    for frame in batch:
        row = rows[frame.pk]
        assert (row.status, row.score, row.model_version) == (Frame.Status.SAFE, scores[frame.pk], "v-batch")
        assert row.scored_at == rows[batch[0].pk].scored_at is not None
    # and the frames outside the claim keep what they had
    assert (rows[other.pk].status, rows[other.pk].score, rows[other.pk].scored_at) == (Frame.Status.SCORING, None, None)
    assert (rows[done.pk].status, rows[done.pk].score, rows[done.pk].model_version) == (
        Frame.Status.REVIEW,
        0.7,
        "earlier",
    )


def test_a_frame_arriving_while_age_checks_are_due_is_scored_before_the_rest_of_them(settings, monkeypatch):
    # given every frame sampled for an age check, and 8 streams' first frames waiting
    from apps.moderation.services import frames as frames_module

    settings.MODERATION_FRAME_AGE_SAMPLE_EVERY = 1
    settings.MODERATION_BATCH_MAX = 8
    streams = [LiveStreamFactory() for _ in range(9)]
    first = [_frame(stream) for stream in streams[:8]]
    late: list[Frame] = []
    seen: list[tuple[int, str | None]] = []  # (frames in the age check call, the late frame's status then)

    def age_check(checking):
        if not checking:
            return
        if not late:  # a new frame arrives while the worker turns to the age checks
            late.append(_frame(streams[8]))
        seen.append((len(checking), Frame.objects.get(pk=late[0].pk).status))

    monkeypatch.setattr(frames_module, "_frames_age_check", age_check)
    # when the first frame's task runs
    scored = services.frame_score(frame_id=first[0].pk)
    # then the late frame got its verdict in the same task, between two few-at-a-time rounds of age checks
    assert {frame.pk for frame in scored} == {frame.pk for frame in first} | {late[0].pk}
    assert seen == [(4, Frame.Status.PENDING), (4, Frame.Status.SAFE), (1, Frame.Status.SAFE)]  # all 9 checked
