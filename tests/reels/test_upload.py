"""Upload validation: the file is read (type sniffed, video decoded, duration measured) before storing."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.reels.models import Reel
from tests.core.errors import assert_error
from tests.media import stored_names
from tests.moderation.factories import banned_word
from tests.reels.videos import corrupt_truncated

pytestmark = pytest.mark.django_db

URL = "/api/v1/reels/"


def _upload(client, path: Path, *, name: str | None = None, content_type: str = "video/mp4", **extra):
    data = {"video": SimpleUploadedFile(name or path.name, path.read_bytes(), content_type=content_type), **extra}
    return client.post(URL, data, format="multipart")


def test_a_valid_clip_is_stored_and_starts_processing(auth_client, user, clip, media):
    # given a three-second MP4
    path = clip(3.0)

    # when the user uploads it (processing is queued on commit, not run here)
    response = _upload(auth_client(user), path, caption="  first reel  ")

    # then it is accepted for processing with what was read from the file
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "processing"
    assert body["caption"] == "first reel"
    assert body["width"] == 96 and body["height"] == 64
    assert body["duration_seconds"] == pytest.approx(3.0, abs=0.2)
    reel = Reel.objects.get(pk=body["id"])
    assert reel.author == user and reel.content_type == "video/mp4" and reel.size_bytes == path.stat().st_size
    assert reel.video.name.startswith("reels/videos/") and reel.video.name.endswith(".mp4")
    assert path.name not in reel.video.name  # the client's file name is not used
    assert stored_names(media) == [reel.video.name]


def test_a_file_that_is_not_a_video_is_refused_whatever_it_claims(auth_client, user, tmp_path, media):
    # given a PNG named and typed as an MP4
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 4000)

    # when it is uploaded
    response = _upload(auth_client(user), fake)

    # then it is refused as the wrong type and nothing is stored
    assert_error(response, 415, "video_type_not_allowed")
    assert not Reel.objects.exists()
    assert stored_names(media) == []


def test_an_oversize_upload_is_refused_before_it_is_stored(auth_client, user, clip, settings, media):
    # given a limit below the clip's size
    path = clip(3.0)
    settings.REELS_MAX_UPLOAD_BYTES = path.stat().st_size - 100

    # when it is uploaded
    response = _upload(auth_client(user), path)

    # then it is refused with the limit and nothing is stored
    body = assert_error(response, 413, "video_too_large")
    assert body["details"]["max_bytes"] == settings.REELS_MAX_UPLOAD_BYTES
    assert not Reel.objects.exists()
    assert stored_names(media) == []


def test_the_size_cap_stops_reading_a_body_that_hides_its_length():
    # given the upload handler with a small cap, fed chunk by chunk (no usable Content-Length)
    from apps.core.uploads import MaxSizeUploadHandler
    from apps.reels.exceptions import VideoTooLarge

    handler = MaxSizeUploadHandler(max_bytes=1000, too_large=VideoTooLarge)
    handler.handle_raw_input(None, {}, 0, b"x")

    # when chunks arrive past the cap, then reading stops at the chunk that crosses it
    assert handler.receive_data_chunk(b"a" * 600, 0) == b"a" * 600
    with pytest.raises(VideoTooLarge):
        handler.receive_data_chunk(b"a" * 600, 600)


def test_a_clip_longer_than_the_limit_is_refused(auth_client, user, clip, settings, media):
    # given a 5 s limit and an 8 s clip
    settings.REELS_MAX_DURATION_SECONDS = 5.0
    path = clip(8.0, fps=5)

    # when it is uploaded
    response = _upload(auth_client(user), path)

    # then it is refused with the measured duration
    body = assert_error(response, 400, "video_duration_out_of_range")
    assert body["details"]["duration_seconds"] == pytest.approx(8.0, abs=0.3)
    assert body["details"]["max_seconds"] == 5.0
    assert not Reel.objects.exists() and stored_names(media) == []


def test_a_clip_shorter_than_the_minimum_is_refused(auth_client, user, clip, settings):
    settings.REELS_MIN_DURATION_SECONDS = 2.0
    response = _upload(auth_client(user), clip(0.5))
    assert_error(response, 400, "video_duration_out_of_range")
    assert not Reel.objects.exists()


@pytest.mark.parametrize("kind", ["truncated", "noise_after_header"])
def test_a_corrupt_file_is_refused(auth_client, user, clip, tmp_path, media, kind):
    # given an MP4 cut in half, or an MP4 header followed by noise
    good = clip(3.0)
    if kind == "truncated":
        bad = corrupt_truncated(good, tmp_path / "bad.mp4")
    else:
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(good.read_bytes()[:32] + bytes(range(256)) * 20)

    # when it is uploaded
    response = _upload(auth_client(user), bad)

    # then it is refused as unreadable and nothing is stored
    assert_error(response, 400, "video_unreadable")
    assert not Reel.objects.exists()
    assert stored_names(media) == []


def test_upload_needs_a_file_and_refuses_unknown_fields(auth_client, user, clip):
    client = auth_client(user)
    assert_error(client.post(URL, {"caption": "no video"}, format="multipart"), 400, "invalid")
    path = clip(2.0)
    response = _upload(client, path, colour="red")
    body = assert_error(response, 400, "invalid")
    assert "colour" in body["details"]
    assert not Reel.objects.exists()


def test_upload_needs_authentication(api_client, clip):
    response = _upload(api_client, clip(2.0))
    assert_error(response, 401)
    assert not Reel.objects.exists()


def test_a_banned_user_cannot_upload(auth_client, user, clip):
    from datetime import timedelta

    from django.utils import timezone

    user.banned_until = timezone.now() + timedelta(days=1)
    user.save(update_fields=["banned_until"])
    # A banned account's token is refused by authentication or by the service: either way, nothing stored.
    response = _upload(auth_client(user), clip(2.0))
    assert response.status_code in (401, 403)
    assert not Reel.objects.exists()


def test_a_caption_has_its_banned_words_masked(auth_client, user, clip, media):
    # given a caption with an evasive spelling of a banned word
    banned_word("shit", severity=70, inside_words=True)  # as the migrations seed it
    response = _upload(auth_client(user), clip(3.0), caption="sh1t happens, Pokhara")
    # then the reel keeps the caption with the word masked
    assert response.status_code == 202, response.content
    assert response.json()["caption"] == "**** happens, Pokhara"
    assert Reel.objects.get(pk=response.json()["id"]).caption == "**** happens, Pokhara"
