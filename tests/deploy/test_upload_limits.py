"""One request-body limit, end to end: nginx, the ingress and Django agree with the upload rules."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.moderation.models import Frame
from tests.core.errors import assert_error
from tests.live.factories import LiveStreamFactory

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
UNITS = {"": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}


def size_bytes(value: str) -> int:
    """nginx's size syntax: 51m, 52224k, 53477376."""
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value.strip()).groups()
    return int(number) * UNITS[unit.lower()]


def nginx_body_limit() -> int:
    conf = (ROOT / "deploy" / "nginx" / "halobuzz.conf").read_text()
    found = re.findall(r"^\s*client_max_body_size\s+(\S+);", conf, flags=re.MULTILINE)
    assert len(found) == 1, "one client_max_body_size for the whole server"
    return size_bytes(found[0])


def ingress_body_limit() -> int:
    ingress = yaml.safe_load((ROOT / "deploy" / "k8s" / "ingress.yaml").read_text())
    return size_bytes(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"])


def test_the_proxies_allow_exactly_the_request_body_django_allows():
    # the settings derive one figure from the largest upload plus the non-file part of a form
    largest = max(
        settings.REELS_MAX_UPLOAD_BYTES,
        settings.MODERATION_FRAME_MAX_BYTES,
        settings.MODERATION_SELFIE_MAX_BYTES,
        settings.AVATAR_MAX_BYTES,
    )
    assert settings.UPLOAD_MAX_BYTES == largest
    assert settings.REQUEST_BODY_MAX_BYTES == largest + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    # and nginx and the ingress carry that same figure
    assert nginx_body_limit() == settings.REQUEST_BODY_MAX_BYTES
    assert ingress_body_limit() == settings.REQUEST_BODY_MAX_BYTES


def test_images_stay_in_memory_and_videos_spool_to_disk():
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE >= max(
        settings.MODERATION_FRAME_MAX_BYTES, settings.MODERATION_SELFIE_MAX_BYTES, settings.AVATAR_MAX_BYTES
    )
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE < settings.REELS_MAX_UPLOAD_BYTES


@pytest.mark.django_db
def test_django_refuses_a_body_past_the_limit_before_reading_it(auth_client, user, settings):
    # given a small limit
    settings.REQUEST_BODY_MAX_BYTES = 2_000
    # when a larger body is sent, then it is refused with 413 in the error shape
    response = auth_client(user).patch("/api/v1/me/", {"bio": "x" * 3_000}, format="json")
    body = assert_error(response, 413, "request_too_large")
    assert body["details"]["max_bytes"] == 2_000
    # and a body within it is served
    assert auth_client(user).patch("/api/v1/me/", {"bio": "hello"}, format="json").status_code == 200


@pytest.mark.django_db
def test_a_frame_past_its_own_limit_is_refused_while_it_arrives_and_not_stored(auth_client, isolated_media, settings):
    # given a frame limit below the upload's size
    settings.MODERATION_FRAME_MAX_BYTES = 1_000
    stream = LiveStreamFactory()
    upload = SimpleUploadedFile("frame.jpg", b"\xff\xd8\xff" + b"\x00" * 5_000, content_type="image/jpeg")
    # when the host uploads it, then it is refused as too large and nothing is stored
    response = auth_client(stream.host).post(
        "/api/v1/moderation/frames/", {"stream_id": stream.pk, "image": upload}, format="multipart"
    )
    assert_error(response, 413, "image_too_large")
    assert not Frame.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/moderation/age-verification/", "/api/v1/moderation/age-verification/id-document/"]
)
def test_selfies_and_id_photos_past_their_limit_are_refused_while_they_arrive(auth_client, user, settings, path):
    settings.MODERATION_SELFIE_MAX_BYTES = 1_000
    field = "selfie" if path.endswith("verification/") else "document"
    upload = SimpleUploadedFile("me.jpg", b"\xff\xd8\xff" + b"\x00" * 5_000, content_type="image/jpeg")
    assert_error(auth_client(user).post(path, {field: upload}, format="multipart"), 413, "image_too_large")
