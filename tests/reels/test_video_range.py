"""The video endpoint honours HTTP Range (206, Content-Range, 416) on the stored file."""

import pytest
import requests

from apps.accounts.models import Block
from tests.core.errors import assert_error
from tests.reels.factories import FAKE_VIDEO_BYTES, ReelFactory

pytestmark = pytest.mark.django_db
SIZE = len(FAKE_VIDEO_BYTES)


@pytest.fixture(autouse=True)
def _served_by_the_app(settings):
    """These tests are about the app serving the bytes itself (REELS_VIDEO_REDIRECT off)."""
    settings.REELS_VIDEO_REDIRECT = False


def _get(client, reel, **headers):
    return client.get(f"/api/v1/reels/{reel.pk}/video/", headers=headers)


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_whole_file_without_a_range(auth_client, user):
    reel = ReelFactory()
    response = _get(auth_client(user), reel)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/mp4"
    assert int(response["Content-Length"]) == SIZE
    assert _body(response) == FAKE_VIDEO_BYTES


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, SIZE - 1),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        ("bytes=9000-99999999", 9000, SIZE - 1),
    ],
)
def test_a_byte_range_is_answered_with_206_and_exactly_those_bytes(auth_client, user, header, first, last):
    reel = ReelFactory()
    response = _get(auth_client(user), reel, Range=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert int(response["Content-Length"]) == last - first + 1
    assert _body(response) == FAKE_VIDEO_BYTES[first : last + 1]


def test_a_range_past_the_end_is_416(auth_client, user):
    response = _get(auth_client(user), ReelFactory(), Range=f"bytes={SIZE}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("header", ["bytes=0-10,20-30", "items=0-5", "bytes=50-10", "bytes=abc"])
def test_ranges_we_do_not_serve_get_the_whole_file(auth_client, user, header):
    response = _get(auth_client(user), ReelFactory(), Range=header)
    assert response.status_code == 200
    assert _body(response) == FAKE_VIDEO_BYTES


def test_if_range_with_another_version_gets_the_whole_file(auth_client, user):
    reel = ReelFactory()
    stale = _get(auth_client(user), reel, Range="bytes=0-9", **{"If-Range": '"reel-0"'})
    assert stale.status_code == 200
    fresh = _get(auth_client(user), reel, Range="bytes=0-9", **{"If-Range": f'"reel-{reel.pk}"'})
    assert fresh.status_code == 206


def test_players_asking_for_video_types_are_not_refused(auth_client, user):
    response = _get(auth_client(user), ReelFactory(), Accept="video/webm,video/*;q=0.9", Range="bytes=0-0")
    assert response.status_code == 206 and _body(response) == FAKE_VIDEO_BYTES[:1]


@pytest.mark.parametrize("redirect", [False, True])
def test_the_video_is_hidden_from_blocked_users_and_strangers_to_unpublished_reels(
    auth_client, user, other_user, settings, redirect
):
    settings.REELS_VIDEO_REDIRECT = redirect
    reel = ReelFactory(author=other_user)
    Block.objects.create(blocker=other_user, blocked=user)
    assert_error(_get(auth_client(user), reel), 404, "reel_not_found")
    assert_error(_get(auth_client(user).__class__(), reel), 401)


def test_redirect_mode_hands_the_player_to_the_storage_url(auth_client, user, settings):
    # given redirects on (the default with media in a bucket)
    settings.REELS_VIDEO_REDIRECT = True
    reel = ReelFactory()
    # when a viewer asks for the video, then the player is sent to the file's public URL
    response = _get(auth_client(user), reel)
    assert response.status_code == 302
    assert response["Location"] == reel.video.url
    if settings.MEDIA_STORAGE == "s3":  # and the bucket serves byte ranges itself
        ranged = requests.get(response["Location"], headers={"Range": "bytes=100-199"}, timeout=10)
        assert ranged.status_code == 206 and ranged.content == FAKE_VIDEO_BYTES[100:200]
