"""The house's one lock order (README, "Lock order"): a moderator's decision and an automatic one on
the same host lock the stream before the user, so they queue behind each other instead of deadlocking."""

import io
import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection, transaction
from PIL import Image

from apps.accounts.models import User
from apps.live.models import Stream
from apps.moderation import services
from apps.moderation.models import Case, Enforcement, Frame
from apps.moderation.selectors import moderation_settings_get
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _moderator() -> User:
    call_command("bootstrap_roles", stdout=io.StringIO())
    moderator = UserFactory(is_staff=True)
    moderator.groups.add(Group.objects.get(name="Moderators"))
    return User.objects.get(pk=moderator.pk)


def _frame_waiting_for_its_verdict(stream: Stream) -> Frame:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(buffer, format="JPEG")
    frame = Frame(stream=stream, host_id=stream.host_id, width=64, height=64, status=Frame.Status.SCORING)
    frame.image.save("lock-order.jpg", ContentFile(buffer.getvalue()), save=False)
    frame.save()
    return frame


def _sessions_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _until_waiting(count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _sessions_waiting_for_a_lock() < count:
        assert time.monotonic() < deadline, f"expected {count} sessions waiting for a lock"
        time.sleep(0.02)


class _InThread(threading.Thread):
    """Runs one call in its own database session; keeps what it returned or raised."""

    def __init__(self, call) -> None:
        super().__init__(daemon=True)
        self.call, self.result, self.error = call, None, None

    def run(self) -> None:
        try:
            self.result = self.call()
        except Exception as exc:  # handed to the test
            self.error = exc
        finally:
            connection.close()


def test_a_suspension_and_a_blocked_frame_of_the_same_host_queue_instead_of_deadlocking(settings, tmp_path):
    # given a live host reported by a viewer, one strike away from a suspension, and a frame about to
    # be scored above the block threshold
    settings.MEDIA_ROOT = str(tmp_path)
    conf = moderation_settings_get()
    conf.nsfw_review_threshold, conf.nsfw_block_threshold, conf.strikes_to_suspend = 0.4, 0.8, 1
    conf.save()
    services.moderation_settings_cache_clear()
    moderator = _moderator()
    stream = LiveStreamFactory()
    services.report_create(reporter=UserFactory(), target_type="stream", target_id=stream.pk, reason="nudity")
    report = Case.objects.get(kind=Case.Kind.REPORT)
    frame = _frame_waiting_for_its_verdict(stream)

    # and another session holding the stream's row, so both decisions reach it and wait: the frame's first
    holding, release = threading.Event(), threading.Event()

    def hold_the_stream() -> None:
        with transaction.atomic():
            Stream.objects.select_for_update().get(pk=stream.pk)
            holding.set()
            release.wait(10)

    holder = _InThread(hold_the_stream)
    holder.start()
    assert holding.wait(10)
    verdict = _InThread(lambda: services.frame_verdict_apply(frame_id=frame.pk, score=0.95, model_version="test"))
    verdict.start()
    _until_waiting(1)
    suspension = _InThread(
        lambda: services.case_act(actor=moderator, case_id=report.pk, action="suspend", reason="nudity", days=3)
    )
    suspension.start()
    _until_waiting(2)

    # when the stream's row is released
    release.set()
    for thread in (holder, verdict, suspension):
        thread.join(30)

    # then both decisions went through, one after the other (neither was killed as a deadlock victim)
    assert (verdict.error, suspension.error) == (None, None)
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.ENDED_BY_MODERATION
    assert User.objects.get(pk=stream.host_id).is_banned
    assert Enforcement.objects.filter(user_id=stream.host_id, kind=Enforcement.Kind.STRIKE).count() == 1
    assert Case.objects.get(pk=report.pk).status == Case.Status.RESOLVED
