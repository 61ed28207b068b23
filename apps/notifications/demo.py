"""Demo push devices: every demo app user has one registered to the FCM sandbox, so pushes show on
the sandbox's page (/sandbox/fcm/), and a few inbox items to look at."""

from collections.abc import Callable

from django.conf import settings

from apps.accounts.models import User
from apps.accounts.services import follow_create
from apps.notifications.models import Device, Kind, Notification
from apps.notifications.services import device_register, notification_create

DEMO_USERS = {"host": "en", "host2": "ne", "viewer": "en", "viewer2": "ne"}


def seed(*, out: Callable[[str], None]) -> None:
    users = {user.username: user for user in User.objects.filter(username__in=DEMO_USERS)}
    if not users:
        out("notifications: no demo users; skipped")
        return
    for username, user in users.items():
        token = f"demo-{username}-sandbox-device"
        if not Device.objects.filter(token=token).exists():
            device_register(user=user, token=token, platform=Device.Platform.ANDROID, locale=DEMO_USERS[username])
    for follower in ("viewer", "viewer2"):
        if follower in users and "host" in users:
            follow_create(follower=users[follower], followee=users["host"])
    viewer = users.get("viewer")
    if viewer is not None and not Notification.objects.filter(user=viewer).exists():
        notification_create(
            user_id=viewer.pk,
            kind=Kind.PAYMENT_RESULT,
            params={"variant": "completed", "coins": 525, "status": "completed"},
        )
    out(
        f"Push devices for {', '.join(sorted(users))} at the FCM sandbox: {settings.SITE_URL}/sandbox/fcm/"
        " (pushes appear there once the worker sends them)"
    )
