"""The back office lists devices, inbox items and preferences; items are read-only there."""

import pytest

from apps.notifications.models import Device, Kind, Notification, Preference
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    return client


def test_the_admin_lists_devices_items_and_preferences(admin_client, user, django_assert_max_num_queries):
    for n in range(5):
        Device.objects.create(user=UserFactory(), token=f"secret-token-{n}-abcdefghijklmnop", platform="android")
        Notification.objects.create(user=user, kind=Kind.GO_LIVE, params={"host": "h", "title": "t"})
    Preference.objects.create(user=user, go_live=False)
    for path in ("device", "notification", "preference"):
        with django_assert_max_num_queries(12):
            response = admin_client.get(f"/admin/notifications/{path}/")
        assert response.status_code == 200
    page = admin_client.get("/admin/notifications/device/").content.decode()
    assert "abcdefghijklmnop" not in page  # tokens are shortened


def test_inbox_items_cannot_be_changed_in_the_admin(admin_client, user):
    item = Notification.objects.create(user=user, kind=Kind.GO_LIVE, params={})
    assert admin_client.get("/admin/notifications/notification/add/").status_code == 403
    response = admin_client.post(f"/admin/notifications/notification/{item.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Notification.objects.filter(pk=item.pk).exists()
