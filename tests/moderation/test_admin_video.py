"""The moderator's admin (queue, case page, one-click actions, evidence, dashboard) and reel video checks."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from PIL import Image

from apps.accounts.models import User
from apps.live.models import Stream
from apps.moderation import services
from apps.moderation.models import Case, ModerationAction
from apps.moderation.selectors import dashboard_figures, moderation_settings_get
from tests.accounts.factories import UserFactory
from tests.media import fetch
from tests.moderation.factories import LiveStreamFactory, upload
from tests.moderation.images import ASTRONAUT, CHELSEA, verdict_score

pytestmark = pytest.mark.django_db
# Below the astronaut's score in a resized MJPEG clip (0.031-0.038 in fp32, lower in int8), far above the cat's.
REVIEW = 0.01


@pytest.fixture
def moderator_client(client):
    call_command("bootstrap_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    mod = UserFactory(is_staff=True)
    mod.groups.add(Group.objects.get(name="Moderators"))
    client.force_login(mod)
    client.user = mod
    return client


def _flagged_frame_case(auth_client, capture) -> Case:
    row = moderation_settings_get()
    row.nsfw_review_threshold, row.nsfw_block_threshold = 0.02, 0.5
    row.save()
    services.moderation_settings_cache_clear()
    stream = LiveStreamFactory()
    with capture(execute=True):
        auth_client(stream.host).post(
            "/api/v1/moderation/frames/",
            {"stream_id": stream.pk, "image": upload(ASTRONAUT)},
            format="multipart",
        )
    return Case.objects.get(kind=Case.Kind.FRAME)


def test_queue_shows_open_cases_with_thumbnail_score_and_links(
    moderator_client, auth_client, django_capture_on_commit_callbacks
):
    case = _flagged_frame_case(auth_client, django_capture_on_commit_callbacks)
    landing = moderator_client.get("/admin/moderation/case/")
    assert landing.status_code == 302 and landing.url.endswith("?status__exact=open")
    page = moderator_client.get(landing.url).content.decode()
    assert f"/admin/moderation/case/{case.pk}/evidence/frame/" in page
    assert f"{verdict_score(ASTRONAUT, 0.02):.3f}" in page  # the astronaut's score (0.032)
    assert f"/admin/accounts/user/{case.subject_id}/change/" in page
    assert f"/admin/live/stream/{case.stream_id}/change/" in page


def test_one_click_suspend_from_the_case_page(moderator_client, auth_client, django_capture_on_commit_callbacks):
    # given a flagged frame's case open in the admin
    case = _flagged_frame_case(auth_client, django_capture_on_commit_callbacks)
    page = moderator_client.get(f"/admin/moderation/case/{case.pk}/change/").content.decode()
    assert 'value="suspend"' in page and 'value="dismiss"' in page and "Flagged frame" in page
    # when the moderator clicks "Suspend" for 3 days with a reason
    response = moderator_client.post(
        f"/admin/moderation/case/{case.pk}/act/", {"action": "suspend", "days": "3", "reason": "nudity"}
    )
    # then it happened at once and is in the audit log
    assert response.status_code == 302
    host = User.objects.get(pk=case.subject_id)
    assert host.is_banned and Stream.objects.get(pk=case.stream_id).status == Stream.Status.ENDED_BY_MODERATION
    entry = ModerationAction.objects.get(action="suspend", actor=moderator_client.user)
    assert entry.details == {"days": 3} and entry.reason == "nudity"


def test_action_without_reason_is_refused(moderator_client, auth_client, django_capture_on_commit_callbacks):
    case = _flagged_frame_case(auth_client, django_capture_on_commit_callbacks)
    moderator_client.post(f"/admin/moderation/case/{case.pk}/act/", {"action": "ban", "reason": " "})
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN and not User.objects.get(pk=case.subject_id).is_banned


def test_evidence_is_served_only_to_staff_who_may_view_cases(
    moderator_client, client, auth_client, django_capture_on_commit_callbacks
):
    case = _flagged_frame_case(auth_client, django_capture_on_commit_callbacks)
    url = f"/admin/moderation/case/{case.pk}/evidence/frame/"
    ok = moderator_client.get(url)
    assert ok.status_code == 302  # to a link signed for a few minutes
    assert fetch(ok["Location"]) == (200, ASTRONAUT.read_bytes())  # as uploaded
    moderator_client.logout()
    plain = UserFactory()
    client.force_login(plain)
    assert client.get(url).status_code == 302  # not staff: to the login page


def test_dashboard_counts_pending_decisions_and_flags(
    moderator_client, auth_client, django_capture_on_commit_callbacks
):
    case = _flagged_frame_case(auth_client, django_capture_on_commit_callbacks)
    figures = dashboard_figures()
    assert figures["pending"]["frame"] == 1 and figures["flags_24h"] == 1
    assert figures["median_minutes_to_decision"] is None
    services.case_act(actor=moderator_client.user, case_id=case.pk, action="dismiss", reason="an astronaut")
    figures = dashboard_figures()
    assert figures["pending_total"] == 0 and figures["decided_7d"] == 1
    assert figures["median_minutes_to_decision"] is not None and figures["median_minutes_to_decision"] < 1
    page = moderator_client.get("/admin/moderation/case/dashboard/")
    assert page.status_code == 200 and b"Median time to a decision" in page.content


def test_settings_form_refuses_review_above_block(moderator_client):
    row = moderation_settings_get()
    data = {f.name: getattr(row, f.name) for f in row._meta.fields if f.editable and f.name != "id"}
    data.update(nsfw_review_threshold=0.9, nsfw_block_threshold=0.5)
    response = moderator_client.post(f"/admin/moderation/moderationsettings/{row.pk}/change/", data)
    assert response.status_code == 200 and b"cannot be above the block threshold" in response.content
    row.refresh_from_db()
    assert row.nsfw_block_threshold == 0.85


# --- Reels --------------------------------------------------------------------------------------


def _video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> str:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return str(path)


def _rgb(source, size=(320, 320)) -> np.ndarray:
    image = source if isinstance(source, Image.Image) else Image.open(source)
    return np.asarray(image.convert("RGB").resize(size))


def test_video_check_samples_scores_and_publishes(tmp_path):
    # given a 3-second clip at 10 fps and sampling at 2 frames per second
    row = moderation_settings_get()
    row.video_sample_fps, row.video_max_frames = 2.0, 100
    row.save()
    services.moderation_settings_cache_clear()
    frames = [_rgb(CHELSEA)] * 30
    # when it is checked
    verdict = services.video_check(path=_video(tmp_path / "cat.avi", frames))
    # then 6 frames were scored, all low: publish
    assert verdict.publish and verdict.reason == "" and verdict.frames_scored == 6
    assert verdict.max_score < 0.01 and verdict.model_version.startswith("opennsfw2")


def test_video_check_rejects_with_the_moment_it_saw(tmp_path):
    # given review at REVIEW and a clip whose second half shows the astronaut (the cat's frames score
    # far below it, the astronaut's above it even after resizing and MJPEG)
    row = moderation_settings_get()
    row.nsfw_review_threshold, row.video_sample_fps = REVIEW, 1.0
    row.save()
    services.moderation_settings_cache_clear()
    frames = [_rgb(CHELSEA)] * 20 + [_rgb(ASTRONAUT)] * 20
    verdict = services.video_check(path=_video(tmp_path / "mixed.avi", frames))
    assert not verdict.publish and verdict.frames_scored == 4
    assert verdict.max_score >= REVIEW and verdict.max_score_at_seconds >= 2.0
    assert "detected at" in verdict.reason


def test_video_check_refuses_what_does_not_decode(tmp_path):
    path = tmp_path / "junk.mp4"
    path.write_bytes(b"\x00" * 4096)
    verdict = services.video_check(path=str(path))
    assert not verdict.publish and verdict.frames_scored == 0
