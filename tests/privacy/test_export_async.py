"""The data export as a background job: a zip of JSON files in the private storage, a status
endpoint with short-lived links for the owner only, an inbox item when ready, and expiry."""

import io
import json
import time
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import Follow
from apps.notifications.models import Kind, Notification
from apps.privacy.models import DataExport
from apps.privacy.services import data_exports_expire
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.core.errors import assert_error
from tests.media import fetch

pytestmark = pytest.mark.django_db

EXPORTS = "/api/v1/me/exports/"


@pytest.fixture(autouse=True)
def _media(isolated_media):
    """Each test's private files apart from the others'."""


def _ask(client, django_capture_on_commit_callbacks) -> dict:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(EXPORTS)
    assert response.status_code == 202, response.content
    return response.json()


def test_an_export_is_built_in_the_background_and_announced(user, auth_client, django_capture_on_commit_callbacks):
    friend = UserFactory()
    Follow.objects.create(follower=user, followee=friend)
    client = auth_client(user)

    asked = _ask(client, django_capture_on_commit_callbacks)
    assert asked["status"] == "pending" and asked["download_url"] is None

    # the task ran once the request committed (eager in tests): it is ready, and the inbox says so
    detail = client.get(f"{EXPORTS}{asked['id']}/").json()
    assert detail["status"] == "ready" and detail["size_bytes"] > 0
    item = Notification.objects.get(user=user, kind=Kind.DATA_EXPORT)
    assert item.params["export_id"] == asked["id"]

    # the link leads to a zip of one JSON file per area, in the private storage
    status, body = fetch(detail["download_url"], client)
    assert status == 200
    archive = zipfile.ZipFile(io.BytesIO(body))
    names = set(archive.namelist())
    assert {"export.json", "profile.json", "following.json", "gifts_sent.json", "payments.json"} <= names
    assert json.loads(archive.read("profile.json"))["username"] == user.username
    assert [row["username"] for row in json.loads(archive.read("following.json"))] == [friend.username]
    assert json.loads(archive.read("export.json"))["format_version"] == 1
    export = DataExport.objects.get()
    assert export.file.name.startswith(f"exports/{user.pk}/") and export.file.storage.exists(export.file.name)
    assert "/media/" not in detail["download_url"]  # never a public media address


def test_asking_again_while_one_is_built_answers_that_one(user, auth_client):
    client = auth_client(user)
    first = client.post(EXPORTS).json()  # not committed in this test: the task waits
    assert client.post(EXPORTS).json()["id"] == first["id"]
    assert DataExport.objects.count() == 1


def test_only_the_owner_sees_an_export(user, auth_client, api_client, django_capture_on_commit_callbacks):
    asked = _ask(auth_client(user), django_capture_on_commit_callbacks)
    assert_error(auth_client(UserFactory()).get(f"{EXPORTS}{asked['id']}/"), 404, "data_export_not_found")
    assert_error(api_client.get(f"{EXPORTS}{asked['id']}/"), 401)
    assert_error(api_client.post(EXPORTS), 401)


def test_a_link_stops_working_after_its_seconds(user, auth_client, settings, django_capture_on_commit_callbacks):
    settings.DATA_EXPORT_LINK_SECONDS = 1
    client = auth_client(user)
    asked = _ask(client, django_capture_on_commit_callbacks)
    url = client.get(f"{EXPORTS}{asked['id']}/").json()["download_url"]
    time.sleep(2.1)
    assert fetch(url, client)[0] in (403, 404)
    # a fresh one works again
    assert fetch(client.get(f"{EXPORTS}{asked['id']}/").json()["download_url"], client)[0] == 200


def test_an_export_is_deleted_after_its_time(user, auth_client, django_capture_on_commit_callbacks):
    client = auth_client(user)
    asked = _ask(client, django_capture_on_commit_callbacks)
    url = client.get(f"{EXPORTS}{asked['id']}/").json()["download_url"]
    export = DataExport.objects.get()
    name, storage = export.file.name, export.file.storage

    assert data_exports_expire(now=timezone.now()) == 0  # not yet
    assert data_exports_expire(now=export.expires_at + timedelta(seconds=1)) == 1

    assert not storage.exists(name)
    assert fetch(url, client)[0] in (403, 404)
    detail = client.get(f"{EXPORTS}{asked['id']}/").json()
    assert (detail["status"], detail["download_url"]) == ("expired", None)
    # and another may be asked for
    assert client.post(EXPORTS).status_code == 202


def test_asking_for_deletion_deletes_the_exports(user, auth_client, django_capture_on_commit_callbacks):
    client = auth_client(user)
    _ask(client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get()
    name, storage = export.file.name, export.file.storage
    response = client.post("/api/v1/me/deletion/", {"password": TEST_PASSWORD}, format="json")
    assert response.status_code == 202, response.content
    assert DataExport.objects.get().status == DataExport.Status.EXPIRED
    assert not storage.exists(name)


def test_the_old_synchronous_export_still_answers_and_says_it_is_retired(user, auth_client):
    response = auth_client(user).get("/api/v1/me/export/")
    assert response.status_code == 200
    assert response["Deprecation"].startswith("@") and "Sunset" in response
    assert response["Link"].endswith('/api/v1/me/exports/>; rel="successor-version"')
