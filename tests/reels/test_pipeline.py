"""The processing pipeline end to end: upload, Celery task, real moderation video check, status to poll."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.moderation.models import ModerationSettings
from apps.moderation.services import moderation_settings_cache_clear
from apps.reels import services
from apps.reels.models import Reel
from tests.media import fetch
from tests.moderation.images import ASTRONAUT, COFFEE
from tests.reels.videos import make_video_from_images

pytestmark = pytest.mark.django_db
# Below every frame of a slideshow of the astronaut and the coffee cup (0.0125-0.041 after resizing
# to 224 and MPEG-4), far above a clean clip's.
STRICT_REVIEW = 0.005


def _upload(client, path: Path):
    return client.post(
        "/api/v1/reels/",
        {"video": SimpleUploadedFile(path.name, path.read_bytes(), content_type="video/mp4"), "caption": "hi"},
        format="multipart",
    )


def test_a_clean_clip_is_measured_thumbnailed_checked_and_published(
    auth_client, user, other_user, clip, django_capture_on_commit_callbacks
):
    # given a clean three-second clip
    client = auth_client(user)

    # when it is uploaded (the processing task runs when the upload commits)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, clip(3.0))
    assert response.status_code == 202, response.content
    reel_id = response.json()["id"]

    # then polling shows it published, with a thumbnail and the moderation model's verdict
    body = client.get(f"/api/v1/reels/{reel_id}/").json()
    assert body["status"] == "published", body
    assert body["rejection_reason"] == ""
    assert body["duration_seconds"] == pytest.approx(3.0, abs=0.2)
    status, thumbnail = fetch(body["thumbnail_url"])  # public media: anyone can fetch it
    assert status == 200 and thumbnail.startswith(b"\xff\xd8\xff")
    reel = Reel.objects.get(pk=reel_id)
    assert reel.moderation_model_version and reel.moderation_score is not None
    assert reel.moderation_score < ModerationSettings.objects.get(pk=1).nsfw_review_threshold
    assert reel.published_at is not None and reel.hot_score > 0
    # and it reaches other people's feeds
    feed = auth_client(other_user).get("/api/v1/reels/feed/").json()["results"]
    assert [item["id"] for item in feed] == [reel_id]


def test_a_clip_the_moderation_check_refuses_is_rejected_with_its_reason(
    auth_client, user, tmp_path, django_capture_on_commit_callbacks, other_user
):
    # given a review threshold below the known scores of two ordinary photos
    ModerationSettings.objects.update_or_create(pk=1, defaults={"nsfw_review_threshold": STRICT_REVIEW})
    moderation_settings_cache_clear()
    path = make_video_from_images(tmp_path / "slides.mp4", [ASTRONAUT, COFFEE], seconds_each=1.5)

    # when it is uploaded and processed
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(auth_client(user), path)
    reel_id = response.json()["id"]

    # then the uploader sees it rejected with moderation's reason; nobody else sees it
    body = auth_client(user).get(f"/api/v1/reels/{reel_id}/").json()
    assert body["status"] == "rejected"
    assert "detected" in body["rejection_reason"]
    reel = Reel.objects.get(pk=reel_id)
    assert reel.moderation_score >= STRICT_REVIEW and reel.published_at is None
    assert auth_client(other_user).get(f"/api/v1/reels/{reel_id}/").status_code == 404
    assert auth_client(other_user).get("/api/v1/reels/feed/").json()["results"] == []


def test_a_clip_that_stops_decoding_halfway_is_rejected_before_moderation(user, clip, tmp_path):
    # given a clip whose first frames decode but whose later frame data is noise
    from tests.reels.videos import corrupt_middle

    bad = corrupt_middle(clip(4.0), tmp_path / "damaged.mp4")
    upload = SimpleUploadedFile("damaged.mp4", bad.read_bytes(), content_type="video/mp4")
    reel = services.reel_upload(author=user, upload=upload)

    # when it is processed
    reel = services.reel_process(reel_id=reel.pk)

    # then it is rejected as damaged and never scored
    assert reel.status == Reel.Status.REJECTED
    assert "damaged" in reel.rejection_reason
    assert reel.moderation_model_version == ""


def test_processing_twice_changes_nothing(user, clip):
    upload = SimpleUploadedFile("c.mp4", clip(2.0).read_bytes(), content_type="video/mp4")
    reel = services.reel_upload(author=user, upload=upload)
    first = services.reel_process(reel_id=reel.pk)
    thumb = first.thumbnail.name
    second = services.reel_process(reel_id=reel.pk)
    assert second.status == first.status == Reel.Status.PUBLISHED
    assert second.thumbnail.name == thumb


def test_a_reel_deleted_while_processing_stays_deleted(user, clip):
    upload = SimpleUploadedFile("c.mp4", clip(2.0).read_bytes(), content_type="video/mp4")
    reel = services.reel_upload(author=user, upload=upload)
    services.reel_delete(reel_id=reel.pk, user=user)
    assert services.reel_process(reel_id=reel.pk).status == Reel.Status.DELETED
