"""The stream category catalogue: managed in the admin, listed in the reader's language, and the only
categories a stream or a schedule may take."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from apps.live.models import Category, ScheduledStream, Stream
from tests.accounts.factories import UserFactory
from tests.live.factories import CategoryFactory, LiveStreamFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/categories/"


@pytest.fixture
def adult():
    return UserFactory()  # verified adult: may go live


def _catalogue():
    Category.objects.all().delete()
    music = CategoryFactory(slug="music", name_en="Music", name_ne="संगीत", position=10, icon="🎵")
    talk = CategoryFactory(slug="talk", name_en="Just chatting", name_ne="गफगाफ", position=5)
    retired = CategoryFactory(slug="retired", name_en="Retired", name_ne="पुरानो", position=1, is_active=False)
    return music, talk, retired


def test_the_list_has_the_active_categories_in_order_named_in_the_request_language(auth_client):
    _catalogue()
    client = auth_client(UserFactory())

    english = client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    nepali = client.get(URL, HTTP_ACCEPT_LANGUAGE="ne-NP,ne;q=0.9")

    assert english.status_code == nepali.status_code == 200
    assert [(c["slug"], c["name"]) for c in english.json()] == [("talk", "Just chatting"), ("music", "Music")]
    assert [(c["slug"], c["name"]) for c in nepali.json()] == [("talk", "गफगाफ"), ("music", "संगीत")]
    assert english.json()[1] == {"slug": "music", "name": "Music", "name_en": "Music", "name_ne": "संगीत", "icon": "🎵"}


def test_a_saved_language_names_the_categories_too(auth_client):
    _catalogue()
    user = UserFactory(language="ne")
    names = [c["name"] for c in auth_client(user).get(URL, HTTP_ACCEPT_LANGUAGE="en").json()]
    assert names == ["गफगाफ", "संगीत"]


def test_streams_carry_the_slug_and_the_localized_name(auth_client):
    _catalogue()
    stream = LiveStreamFactory(category="music")
    client = auth_client(UserFactory())

    detail = client.get(f"/api/v1/streams/{stream.pk}/", HTTP_ACCEPT_LANGUAGE="ne").json()
    active = client.get("/api/v1/streams/active/", HTTP_ACCEPT_LANGUAGE="en").json()["results"]
    active_ne = client.get("/api/v1/streams/active/", HTTP_ACCEPT_LANGUAGE="ne").json()["results"]

    assert (detail["category"], detail["category_name"]) == ("music", "संगीत")
    assert (active[0]["category"], active[0]["category_name"]) == ("music", "Music")
    assert active_ne[0]["category_name"] == "संगीत"


def test_a_stream_without_a_category_shows_empty_strings(auth_client):
    stream = LiveStreamFactory(category="")
    body = auth_client(UserFactory()).get(f"/api/v1/streams/{stream.pk}/").json()
    assert (body["category"], body["category_name"]) == ("", "")


def test_going_live_takes_a_catalogue_slug_in_any_case(auth_client, adult):
    _catalogue()
    response = auth_client(adult).post("/api/v1/streams/", {"title": "Songs", "category": "Music"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["stream"]["category"] == "music"
    assert Stream.objects.get().category_id == "music"


@pytest.mark.parametrize("category", ["karaoke", "retired"])
def test_going_live_with_an_unknown_or_retired_category_is_a_400_and_writes_nothing(auth_client, adult, category):
    _catalogue()
    response = auth_client(adult).post("/api/v1/streams/", {"title": "Songs", "category": category}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "category_unknown"
    assert response.json()["details"] == {"category": category}
    assert not Stream.objects.exists()


def test_schedules_refuse_unknown_categories_on_create_and_on_update(auth_client, adult):
    _catalogue()
    client = auth_client(adult)
    starts_at = (timezone.now() + timedelta(days=1)).isoformat()

    refused = client.post(
        "/api/v1/streams/schedules/", {"title": "x", "category": "nope", "starts_at": starts_at}, format="json"
    )
    created = client.post(
        "/api/v1/streams/schedules/", {"title": "x", "category": "talk", "starts_at": starts_at}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["code"] == "category_unknown"
    assert created.status_code == 201 and created.json()["category_name"] == "Just chatting"
    schedule_id = created.json()["id"]

    retired = client.patch(f"/api/v1/streams/schedules/{schedule_id}/", {"category": "retired"}, format="json")
    moved = client.patch(f"/api/v1/streams/schedules/{schedule_id}/", {"category": "music"}, format="json")
    assert retired.status_code == 400 and retired.json()["code"] == "category_unknown"
    assert moved.status_code == 200 and moved.json()["category"] == "music"
    assert ScheduledStream.objects.get().category_id == "music"


def test_the_active_list_filters_by_category(auth_client):
    _catalogue()
    music = LiveStreamFactory(category="music")
    LiveStreamFactory(category="talk")
    client = auth_client(UserFactory())
    ids = [s["id"] for s in client.get("/api/v1/streams/active/", {"category": "MUSIC"}).json()["results"]]
    assert ids == [music.pk]
    assert client.get("/api/v1/streams/active/", {"category": "nothing"}).json()["results"] == []


def test_retiring_a_category_takes_it_off_the_list_at_once_and_keeps_its_streams(auth_client):
    music, _, _ = _catalogue()
    stream = LiveStreamFactory(category="music")
    client = auth_client(UserFactory())
    assert "music" in [c["slug"] for c in client.get(URL).json()]

    music.is_active = False
    music.save()

    assert "music" not in [c["slug"] for c in client.get(URL).json()]
    assert client.get(f"/api/v1/streams/{stream.pk}/").json()["category"] == "music"


# --- The admin ----------------------------------------------------------------------------------

ADMIN = "/admin/live/category/"


@pytest.fixture
def superuser_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def _staff_client(client, *perms: str):
    user = UserFactory(is_staff=True)
    group, _ = Group.objects.get_or_create(name=f"cat-test-{len(perms)}")
    group.permissions.set(Permission.objects.filter(content_type__app_label="live", codename__in=perms))
    user.groups.add(group)
    client.force_login(user)
    return client


def test_an_admin_adds_a_category_and_cannot_change_its_slug_afterwards(superuser_client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    Category.objects.all().delete()
    added = superuser_client.post(
        f"{ADMIN}add/",
        {"slug": "cricket", "name_en": "Cricket", "name_ne": "क्रिकेट", "icon": "🏏", "position": 3, "is_active": "on"},
    )
    assert added.status_code == 302, added.content[:2000]
    cricket = Category.objects.get(slug="cricket")
    assert (cricket.name_ne, cricket.position, cricket.is_active) == ("क्रिकेट", 3, True)

    superuser_client.post(
        f"{ADMIN}{cricket.pk}/change/",
        {"slug": "sneaky", "name_en": "Cricket", "name_ne": "क्रिकेट", "icon": "", "position": 4},
    )
    cricket.refresh_from_db()
    assert (cricket.slug, cricket.position, cricket.is_active) == ("cricket", 4, False)


def test_admin_actions_retire_and_bring_back_categories(superuser_client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    music, talk, _ = _catalogue()
    ids = [music.pk, talk.pk]
    superuser_client.post(ADMIN, {"action": "deactivate", "_selected_action": ids})
    assert not Category.objects.filter(pk__in=ids, is_active=True).exists()
    superuser_client.post(ADMIN, {"action": "activate", "_selected_action": ids})
    assert Category.objects.filter(pk__in=ids, is_active=True).count() == 2


def test_a_category_in_use_cannot_be_deleted():
    _catalogue()
    LiveStreamFactory(category="music")
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        Category.objects.get(slug="music").delete()


def test_only_staff_with_the_permission_manage_the_catalogue(client, settings):
    settings.ADMIN_REQUIRE_2FA = False
    _catalogue()
    # a signed-in non-staff user is sent to the admin login
    client.force_login(UserFactory())
    assert client.get(ADMIN).status_code == 302
    # staff without the catalogue permissions are refused
    assert _staff_client(client, "view_stream").get(ADMIN).status_code == 403
    # staff who may only view cannot add
    viewer = _staff_client(client, "view_category")
    assert viewer.get(ADMIN).status_code == 200
    assert viewer.post(f"{ADMIN}add/", {"slug": "x", "name_en": "X", "name_ne": "X", "position": 1}).status_code == 403
    assert not Category.objects.filter(slug="x").exists()


def test_ops_may_manage_the_catalogue():
    from apps.live.roles import GROUP_PERMISSIONS

    assert {"live.view_category", "live.add_category", "live.change_category"} <= set(GROUP_PERMISSIONS["Ops"])
