"""The inbox API: cursor pages, read one / all, the cached unread count, devices and preferences,
each only for the signed-in user."""

import pytest

from apps.notifications.models import Device, Kind, Notification, Preference
from apps.notifications.selectors import notification_unread_count
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/notifications/"


def _items(user, n: int) -> list[Notification]:
    params = {"variant": "completed", "coins": 100, "status": "completed", "payment_id": 7}
    return [Notification.objects.create(user=user, kind=Kind.PAYMENT_RESULT, params=params) for _ in range(n)]


def test_the_inbox_pages_by_cursor_newest_first_and_only_ones_own(auth_client, user, other_user):
    mine = _items(user, 25)
    _items(other_user, 3)
    client = auth_client(user)
    seen, url = [], f"{BASE}?page_size=10"
    while url:
        body = client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
    assert seen == [item.pk for item in reversed(mine)]
    first = client.get(BASE).json()["results"][0]
    assert first["title"] == "Top-up complete"
    assert first["body"] == "100 coins were added to your wallet."
    assert first["data"] == {"payment_id": 7}
    assert first["read"] is False


def test_the_inbox_reads_in_the_users_language(auth_client):
    user = UserFactory(language="ne")
    _items(user, 1)
    item = auth_client(user).get(BASE).json()["results"][0]
    assert item["title"] == "टप-अप पूरा भयो"
    assert "१००" in item["body"]


def test_the_inbox_list_costs_fixed_queries(auth_client, user, django_assert_max_num_queries):
    _items(user, 30)
    client = auth_client(user)
    with django_assert_max_num_queries(4):
        assert len(client.get(f"{BASE}?page_size=30").json()["results"]) == 30


def test_a_bad_page_size_is_a_400(auth_client, user):
    response = auth_client(user).get(f"{BASE}?page_size=0")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_mark_one_read_and_the_unread_count_follows(auth_client, user, django_capture_on_commit_callbacks):
    items = _items(user, 3)
    client = auth_client(user)
    assert client.get(f"{BASE}unread-count/").json() == {"unread": 3}
    with django_capture_on_commit_callbacks(execute=True):  # the cached count is forgotten on commit
        response = client.post(f"{BASE}{items[0].pk}/read/")
    assert response.status_code == 200
    assert response.json()["read"] is True
    assert client.get(f"{BASE}unread-count/").json() == {"unread": 2}


def test_the_unread_count_is_cached(user, django_assert_num_queries):
    _items(user, 2)
    assert notification_unread_count(user_id=user.pk) == 2
    with django_assert_num_queries(0):
        assert notification_unread_count(user_id=user.pk) == 2


def test_nobody_marks_anothers_notification_read(auth_client, user, other_user):
    (theirs,) = _items(other_user, 1)
    response = auth_client(user).post(f"{BASE}{theirs.pk}/read/")
    assert response.status_code == 404
    assert response.json()["code"] == "notification_not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_read_all_marks_only_ones_own(auth_client, user, other_user, django_capture_on_commit_callbacks):
    _items(user, 4)
    _items(other_user, 2)
    assert auth_client(user).get(f"{BASE}unread-count/").json() == {"unread": 4}
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client(user).post(f"{BASE}read-all/")
    assert response.json() == {"marked": 4}
    assert Notification.objects.filter(user=other_user, read_at__isnull=True).count() == 2
    assert auth_client(user).get(f"{BASE}unread-count/").json() == {"unread": 0}


def test_the_inbox_needs_a_signed_in_user(client):
    for response in (client.get(BASE), client.get(f"{BASE}unread-count/"), client.post(f"{BASE}read-all/")):
        assert response.status_code == 401


def test_a_device_is_registered_for_the_signed_in_user_only(auth_client, user, other_user):
    # given another user's device on the token (the install changed hands)
    Device.objects.create(user=other_user, token="install-1", platform="android")
    # when this user registers it
    response = auth_client(user).post(
        f"{BASE}devices/", {"token": "install-1", "platform": "ios", "locale": "ne"}, format="json"
    )
    # then it is theirs now, and no field names anyone else
    assert response.status_code == 200
    device = Device.objects.get(token="install-1")
    assert (device.user_id, device.platform, device.locale) == (user.pk, "ios", "ne")
    refused = auth_client(user).post(
        f"{BASE}devices/", {"token": "t2", "platform": "android", "user": other_user.pk}, format="json"
    )
    assert refused.status_code == 400
    assert not Device.objects.filter(token="t2").exists()


def test_nobody_unregisters_anothers_device(auth_client, user, other_user):
    Device.objects.create(user=other_user, token="theirs", platform="android")
    response = auth_client(user).post(f"{BASE}devices/unregister/", {"token": "theirs"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "device_not_found"
    assert Device.objects.filter(token="theirs").exists()


def test_a_device_needs_a_known_platform(auth_client, user):
    response = auth_client(user).post(f"{BASE}devices/", {"token": "x", "platform": "symbian"}, format="json")
    assert response.status_code == 400
    assert "platform" in response.json()["details"]


def test_preferences_default_on_and_change(auth_client, user):
    client = auth_client(user)
    assert client.get(f"{BASE}preferences/").json()["go_live"] is True
    response = client.patch(
        f"{BASE}preferences/",
        {"go_live": False, "quiet_hours_start": "22:00", "quiet_hours_end": "07:00"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["go_live"] is False
    assert response.json()["quiet_hours_start"] == "22:00:00"
    assert Preference.objects.get(user=user).go_live is False


def test_quiet_hours_need_both_ends(auth_client, user):
    response = auth_client(user).patch(f"{BASE}preferences/", {"quiet_hours_start": "22:00"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "quiet_hours_invalid"
    assert not Preference.objects.filter(user=user, quiet_hours_start__isnull=False).exists()
