"""Media storage end to end: public files at URLs anyone can fetch, private ones only through signed
links that expire and that only staff or the owner get.

With the test command's settings media lives in buckets on a real S3-compatible server (moto in
server mode, tests/objectstore.py, which also checks presigned links as S3 does); the filesystem
backend's signed links are tested by switching the storages to folders of the test's own.
"""

import copy
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management import call_command
from PIL import Image

from apps.core.storage import private_storage, storage_read
from apps.moderation.models import AgeCheck, Case, Enforcement, Frame
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.live.factories import LiveStreamFactory
from tests.media import assert_private_link, fetch, stored_names

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
FRAMES = "/api/v1/moderation/frames/"
ENFORCEMENTS = "/api/v1/moderation/enforcements/"
s3_only = pytest.mark.skipif(django_settings.MEDIA_STORAGE != "s3", reason="media is on the filesystem")


def jpeg(colour=(40, 120, 200), size=(96, 96)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def unsigned(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query=""))


def links_last(settings, seconds: int) -> None:
    """Private links handed out from now on work for `seconds`."""
    settings.MEDIA_PRIVATE_URL_SECONDS = seconds
    if settings.MEDIA_STORAGE == "s3":
        configured = copy.deepcopy(settings.STORAGES)
        configured["private"]["OPTIONS"]["querystring_expire"] = seconds
        settings.STORAGES = configured


@pytest.fixture
def flagged_frame(isolated_media):
    """A host's frame kept as evidence, with the strike it earned and the case moderators see."""
    stream = LiveStreamFactory()
    frame = Frame(stream=stream, host=stream.host, width=96, height=96, status=Frame.Status.REVIEW, score=0.9)
    frame.image.save("evidence.jpg", ContentFile(jpeg()), save=False)
    frame.save()
    case = Case.objects.create(
        kind=Case.Kind.FRAME, target_type=Case.TargetType.FRAME, target_id=str(frame.pk), frame=frame,
        subject=stream.host, stream=stream, score=0.9,
    )  # fmt: skip
    Enforcement.objects.create(
        user=stream.host, kind=Enforcement.Kind.STRIKE, rule="nsfw_frame", explanation="Flagged frame.",
        stream=stream, frame=frame, case=case, model_score=0.9,
    )  # fmt: skip
    return frame


@pytest.fixture
def moderator(db):
    call_command("bootstrap_roles", stdout=io.StringIO())
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


# --- Uploads land where they belong ---------------------------------------------------------------


def test_a_frame_uploaded_through_the_api_is_stored_as_private_media_only(auth_client, isolated_media, settings):
    # given a live host
    stream = LiveStreamFactory()
    image = jpeg()
    # when the host's app uploads a frame
    response = auth_client(stream.host).post(
        FRAMES, {"stream_id": stream.pk, "image": ContentFile(image, name="f.jpg")}, format="multipart"
    )
    # then the file is in the private storage, byte for byte, and nothing is in the public one
    assert response.status_code == 202, response.json()
    frame = Frame.objects.get(pk=response.json()["id"])
    assert stored_names(private_storage()) == [frame.image.name]
    with private_storage().open(frame.image.name) as fh:
        assert fh.read() == image
    from django.core.files.storage import default_storage

    assert stored_names(default_storage) == []
    assert_private_link(frame.image.url, name=frame.image.name)


@s3_only
def test_a_private_object_is_refused_without_a_signature_and_served_with_one(flagged_frame):
    link = flagged_frame.image.url
    # when anyone asks for the object itself, then the object store refuses
    assert requests.get(unsigned(link), timeout=10).status_code == 403
    # when the link is altered, then it is refused too
    assert requests.get(link.replace("X-Amz-Expires=300", "X-Amz-Expires=3000"), timeout=10).status_code == 403
    # when the signed link is used, then it opens the evidence
    assert fetch(link) == (200, jpeg())


@s3_only
def test_the_public_bucket_never_holds_private_media(flagged_frame, settings):
    public = urlsplit(flagged_frame.image.url)._replace(
        path=f"/{settings.MEDIA_PUBLIC_BUCKET}/{flagged_frame.image.name}", query=""
    )
    assert requests.get(urlunsplit(public), timeout=10).status_code in (403, 404)


def test_a_signed_link_stops_working_when_it_expires(flagged_frame, settings):
    # given links that last three seconds (signatures count whole seconds from the second they were
    # made in, so a one-second link can be stale by the time it is first fetched)
    links_last(settings, 3)
    link = private_storage().url(flagged_frame.image.name)
    assert fetch(link) == (200, jpeg())
    # when the seconds have passed, then the link is refused
    time.sleep(4.1)
    status, _ = fetch(link)
    assert status == 403


# --- Who gets a link --------------------------------------------------------------------------------


def test_the_owner_gets_a_signed_link_to_the_evidence_of_their_strike(flagged_frame, auth_client):
    item = auth_client(flagged_frame.host).get(ENFORCEMENTS).json()["results"][0]
    assert_private_link(item["frame_url"], name=flagged_frame.image.name)
    assert fetch(item["frame_url"]) == (200, jpeg())


def test_another_user_gets_no_link_to_someone_elses_evidence(flagged_frame, auth_client):
    stranger = UserFactory()
    assert auth_client(stranger).get(ENFORCEMENTS).json()["results"] == []
    appeal = f"{ENFORCEMENTS}{flagged_frame.enforcements.get().pk}/appeal/"
    assert_error(auth_client(stranger).post(appeal, {"text": "mine?"}, format="json"), 404)


def test_a_moderator_is_sent_to_a_signed_link_and_others_are_not(flagged_frame, moderator, client):
    url = f"/admin/moderation/case/{flagged_frame.cases.get().pk}/evidence/frame/"
    # a moderator: redirected to a short-lived signed link that opens the file
    client.force_login(moderator)
    response = client.get(url)
    assert response.status_code == 302 and "no-store" in response["Cache-Control"]
    assert_private_link(response["Location"], name=flagged_frame.image.name)
    assert fetch(response["Location"]) == (200, jpeg())
    # a signed-in user who is not staff: to the admin login, no link
    client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    # staff who may not view cases: not found
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 404
    # nobody signed in: to the login page
    client.logout()
    assert client.get(url)["Location"].startswith("/admin/login/")


def test_age_check_documents_are_private_and_only_moderators_reach_them(moderator, client, isolated_media):
    # given a held age check with a selfie and an ID photo
    user = UserFactory()
    check = AgeCheck(user=user, estimated_age=15.0, model_version="test", outcome=AgeCheck.Outcome.LIKELY_MINOR)
    check.selfie.save("s.jpg", ContentFile(jpeg((200, 150, 120))), save=False)
    check.id_document.save("id.jpg", ContentFile(jpeg((10, 10, 10))), save=False)
    check.save()
    case = Case.objects.create(
        kind=Case.Kind.AGE_REVIEW, target_type=Case.TargetType.AGE_CHECK, target_id=str(check.pk), age_check=check,
        subject=user,
    )  # fmt: skip
    # then both files are private media
    assert stored_names(private_storage()) == sorted([check.selfie.name, check.id_document.name])
    # and a moderator opens each through a signed link
    client.force_login(moderator)
    for which, field in (("selfie", check.selfie), ("id", check.id_document)):
        response = client.get(f"/admin/moderation/case/{case.pk}/evidence/{which}/")
        assert_private_link(response["Location"], name=field.name)
        with private_storage().open(field.name) as fh:
            assert fetch(response["Location"]) == (200, fh.read())


# --- Links made for another address of the object store ------------------------------------------


@s3_only
def test_links_can_name_the_address_browsers_use(flagged_frame, settings):
    # given the object store reached by the app at 127.0.0.1 and by browsers at localhost
    external = settings.MEDIA_S3_ENDPOINT_URL.replace("127.0.0.1", "localhost")
    configured = copy.deepcopy(settings.STORAGES)
    configured["private"]["OPTIONS"]["url_endpoint_url"] = external
    settings.STORAGES = configured
    # when a link is made, then it names that address and its signature holds there
    link = private_storage().url(flagged_frame.image.name)
    assert link.startswith(external + "/")
    assert fetch(link) == (200, jpeg())


# --- The filesystem backend's links -----------------------------------------------------------------


@pytest.fixture
def filesystem_media(settings, tmp_path):
    configured = copy.deepcopy(settings.STORAGES)
    configured["default"] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    configured["private"] = {
        "BACKEND": "apps.core.storage.SignedFileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "private")},
    }
    settings.STORAGES = configured
    settings.MEDIA_STORAGE = "filesystem"
    settings.MEDIA_ROOT = str(tmp_path / "public")


def test_on_the_filesystem_private_files_are_served_by_signed_links_that_expire(filesystem_media, settings, client):
    # given a private file on disk, outside MEDIA_ROOT
    name = private_storage().save("moderation/frames/x.jpg", ContentFile(jpeg()))
    assert not (Path(settings.MEDIA_ROOT) / name).exists()
    link = private_storage().url(name)
    assert_private_link(link, name=name)
    # when the link is used, then the app serves the file, uncached
    response = client.get(link)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == jpeg()
    # when it is altered, then it is refused
    assert client.get(link[:-2] + ("AA" if not link.endswith("AA") else "BB")).status_code == 403
    # when it has expired, then it is refused
    settings.MEDIA_PRIVATE_URL_SECONDS = 1
    short = private_storage().url(name)
    time.sleep(2.1)
    assert client.get(short).status_code == 403


def test_on_the_filesystem_a_link_to_a_deleted_file_is_not_found(filesystem_media, client):
    name = private_storage().save("moderation/frames/gone.jpg", ContentFile(jpeg()))
    link = private_storage().url(name)
    private_storage().delete(name)
    assert client.get(link).status_code == 404


# --- Start-up: production without buckets ------------------------------------------------------------


def _settings_in_a_fresh_process(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("MEDIA_")}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=REPO,
        env={**keep, "DJANGO_SETTINGS_MODULE": "halobuzz.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_without_buckets_refuses_to_start_and_says_what_to_set():
    result = _settings_in_a_fresh_process({}, "print('started')")
    assert result.returncode != 0 and "started" not in result.stdout
    assert "MEDIA_PUBLIC_BUCKET and MEDIA_PRIVATE_BUCKET" in result.stderr
    assert "MEDIA_STORAGE=filesystem" in result.stderr


def test_public_media_is_served_from_the_cdn_address_and_private_media_never_is():
    code = (
        "from django.core.files.storage import storages; "
        "print(storages['default'].url('avatars/a b.png')); print(storages['private'].url('moderation/x.jpg'))"
    )
    result = _settings_in_a_fresh_process(
        {
            "MEDIA_PUBLIC_BUCKET": "hb-public",
            "MEDIA_PRIVATE_BUCKET": "hb-private",
            "MEDIA_S3_ACCESS_KEY_ID": "id",
            "MEDIA_S3_SECRET_ACCESS_KEY": "secret",
            "MEDIA_PUBLIC_URL": "https://cdn.halobuzz.example/media",
        },
        code,
    )
    assert result.returncode == 0, result.stderr
    public, private = result.stdout.split()
    assert public == "https://cdn.halobuzz.example/media/avatars/a%20b.png"
    assert "cdn.halobuzz.example" not in private and "X-Amz-Signature=" in private and "X-Amz-Expires=300" in private


def test_private_and_public_buckets_must_differ():
    result = _settings_in_a_fresh_process({"MEDIA_PUBLIC_BUCKET": "one", "MEDIA_PRIVATE_BUCKET": "one"}, "pass")
    assert result.returncode != 0 and "must not be the public bucket" in result.stderr


# --- The bucket command ------------------------------------------------------------------------------


@s3_only
def test_the_bucket_command_is_safe_to_rerun_and_leaves_the_private_bucket_closed(flagged_frame, settings):
    out = io.StringIO()
    call_command("media_buckets", stdout=out)
    assert "anyone may read objects" in out.getvalue() and "created" not in out.getvalue()
    assert requests.get(unsigned(flagged_frame.image.url), timeout=10).status_code == 403


@pytest.mark.parametrize("where", ["bucket", "filesystem"])
def test_a_stored_file_is_read_whole_and_a_missing_one_is_not_found(where, isolated_media, settings, request):
    # given a private file (in the test run's bucket, or on the filesystem) and a name never stored
    if where == "filesystem":
        request.getfixturevalue("filesystem_media")
    elif settings.MEDIA_STORAGE != "s3":
        pytest.skip("media is on the filesystem")
    data = jpeg(size=(200, 120))
    name = private_storage().save("moderation/frames/read.jpg", ContentFile(data))
    # when both are read (the scorer reads each frame this way: one GET from a bucket)
    # then the file comes back byte for byte, and the missing one raises FileNotFoundError
    assert storage_read(private_storage(), name) == data
    with pytest.raises(FileNotFoundError):
        storage_read(private_storage(), "moderation/frames/never-stored.jpg")
