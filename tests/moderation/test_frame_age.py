"""Live frames also get an age estimate on a sample: a face below 18 + the safety margin opens a review
case and pauses the stream's gifts until a moderator decides in the admin (real images, real model)."""

import uuid

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from apps.gifts.models import GiftSend
from apps.live.models import Stream
from apps.moderation import services
from apps.moderation.models import Case, Frame, ModerationAction
from apps.moderation.selectors import moderation_settings_get
from apps.wallet.selectors import coins_balance
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory
from tests.moderation.factories import LiveStreamFactory, upload
from tests.moderation.images import ASTRONAUT, CHELSEA
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db
FRAMES = "/api/v1/moderation/frames/"


def _margin(years: int) -> None:
    row = moderation_settings_get()
    row.age_safety_margin_years = years
    row.save()
    services.moderation_settings_cache_clear()


def _frame(client, stream, source, capture) -> Frame:
    with capture(execute=True):
        response = client.post(FRAMES, {"stream_id": stream.pk, "image": upload(source)}, format="multipart")
    assert response.status_code == 202, response.json()
    return Frame.objects.get(pk=response.json()["id"])


def _gift(client, stream, gift):
    return client.post(
        "/api/v1/gifts/send/",
        {"stream": stream.pk, "gift": gift.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )


@pytest.fixture
def moderator_client(client):
    call_command("bootstrap_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    mod = UserFactory(is_staff=True)
    mod.groups.add(Group.objects.get(name="Moderators"))
    client.force_login(mod)
    client.user = mod
    return client


@pytest.fixture
def viewer(db):
    user = UserFactory()
    fund(user, 1_000)
    return user


def test_possible_minor_pauses_gifts_until_a_moderator_dismisses(
    auth_client, moderator_client, viewer, django_capture_on_commit_callbacks
):
    # given a margin so wide that the astronaut (about 33) counts as possibly a minor
    _margin(20)
    stream = LiveStreamFactory()
    gift = GiftFactory(coin_price=10)
    # when the stream's first frame (always sampled) shows her face
    frame = _frame(auth_client(stream.host), stream, ASTRONAUT, django_capture_on_commit_callbacks)
    # then a review case is open for the stream, its gifts are paused, and the audit log says why
    case = Case.objects.get(kind=Case.Kind.AGE_FRAME)
    assert (case.status, case.stream_id, case.subject_id, case.frame_id) == (
        Case.Status.OPEN,
        stream.pk,
        stream.host_id,
        frame.pk,
    )
    assert case.summary.startswith("Face estimated 33 years")
    assert Stream.objects.get(pk=stream.pk).gifting_paused_at is not None
    pause = ModerationAction.objects.get(action=ModerationAction.Action.GIFTING_PAUSE)
    assert pause.actor is None and pause.stream_id == stream.pk and round(pause.details["estimated_ages"][0]) == 33
    # and the frame is kept as evidence (the sweep deletes only safe frames)
    frame.refresh_from_db()
    assert frame.status == Frame.Status.REVIEW
    # when a viewer sends a gift, then it is refused with a clear code and nothing moves
    client = auth_client(viewer)
    refused = _gift(client, stream, gift)
    assert refused.status_code == 409
    assert refused.json()["code"] == "stream_gifting_paused" and "paused" in refused.json()["message"]
    assert coins_balance(user_id=viewer.pk) == 1_000 and not GiftSend.objects.exists()
    # when a moderator dismisses the case in the admin
    response = moderator_client.post(
        f"/admin/moderation/case/{case.pk}/act/", {"action": "dismiss", "reason": "the host is an adult"}
    )
    assert response.status_code == 302
    # then gifts flow again, and the decision is in the audit log
    assert Stream.objects.get(pk=stream.pk).gifting_paused_at is None
    decision = ModerationAction.objects.get(action=ModerationAction.Action.DISMISS, case=case)
    assert decision.actor_id == moderator_client.user.pk and decision.details == {"gifting_resumed": True}
    assert _gift(client, stream, gift).status_code == 201
    # and a cleared stream is not flagged again
    _frame(auth_client(stream.host), stream, ASTRONAUT, django_capture_on_commit_callbacks)
    assert Case.objects.filter(kind=Case.Kind.AGE_FRAME, status=Case.Status.OPEN).count() == 0


def test_adult_face_leaves_gifts_open(auth_client, viewer, django_capture_on_commit_callbacks):
    # given the default margin (18 + 7) and the astronaut (about 33)
    stream = LiveStreamFactory()
    _frame(auth_client(stream.host), stream, ASTRONAUT, django_capture_on_commit_callbacks)
    # then nothing is opened or paused
    assert not Case.objects.filter(kind=Case.Kind.AGE_FRAME).exists()
    assert Stream.objects.get(pk=stream.pk).gifting_paused_at is None
    assert _gift(auth_client(viewer), stream, GiftFactory(coin_price=10)).status_code == 201


def test_only_every_nth_frame_of_a_stream_is_estimated(auth_client, settings, django_capture_on_commit_callbacks):
    # given every 2nd frame sampled and a margin that flags the astronaut
    settings.MODERATION_FRAME_AGE_SAMPLE_EVERY = 2
    _margin(20)
    stream = LiveStreamFactory()
    client = auth_client(stream.host)
    # when frame 1 (sampled) shows no face and frame 2 (not sampled) shows her
    _frame(client, stream, CHELSEA, django_capture_on_commit_callbacks)
    _frame(client, stream, ASTRONAUT, django_capture_on_commit_callbacks)
    # then nothing is flagged yet
    assert not Case.objects.filter(kind=Case.Kind.AGE_FRAME).exists()
    # when frame 3 (sampled) shows her, then the stream is flagged and paused
    _frame(client, stream, ASTRONAUT, django_capture_on_commit_callbacks)
    assert Case.objects.filter(kind=Case.Kind.AGE_FRAME, stream_id=stream.pk).count() == 1
    assert Stream.objects.get(pk=stream.pk).gifting_paused_at is not None


def test_ending_the_stream_from_the_case_also_settles_the_pause(
    auth_client, moderator_client, django_capture_on_commit_callbacks
):
    _margin(20)
    stream = LiveStreamFactory()
    _frame(auth_client(stream.host), stream, ASTRONAUT, django_capture_on_commit_callbacks)
    case = Case.objects.get(kind=Case.Kind.AGE_FRAME)
    moderator_client.post(f"/admin/moderation/case/{case.pk}/act/", {"action": "end_stream", "reason": "a minor"})
    stream.refresh_from_db()
    assert stream.status == Stream.Status.ENDED_BY_MODERATION and stream.gifting_paused_at is None
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED and case.decision == "end_stream"


def test_viewer_cannot_decide_an_age_case(auth_client, client, django_capture_on_commit_callbacks):
    _margin(20)
    stream = LiveStreamFactory()
    _frame(auth_client(stream.host), stream, ASTRONAUT, django_capture_on_commit_callbacks)
    case = Case.objects.get(kind=Case.Kind.AGE_FRAME)
    client.force_login(UserFactory())
    response = client.post(f"/admin/moderation/case/{case.pk}/act/", {"action": "dismiss", "reason": "x"})
    assert response.status_code in (302, 403)
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
    assert Stream.objects.get(pk=stream.pk).gifting_paused_at is not None
