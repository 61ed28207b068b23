"""Demo accounts for the embedded default; credentials are printed so a person can sign in."""

import io
from collections.abc import Callable
from datetime import date

from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import User

DEMO_PASSWORD = "halobuzz-demo-2026"  # noqa: S105  (demo data only; printed on purpose)

# Verified Nepali mobiles of the demo's people: password reset by SMS works in the demo (the code shows
# in the SMS sandbox's outbox, /sandbox/sparrow/outbox/), and hosts may go live (it needs a verified phone).
DEMO_PHONES = {
    "viewer": "+9779800000001",
    "host": "+9779800000002",
    "host2": "+9779800000003",
    "viewer2": "+9779800000004",
}

DEMO_USERS = [
    # username, display name, staff, superuser, group
    ("admin", "HaloBuzz Admin", True, True, None),
    ("moderator", "Maya Moderator", True, False, "Moderators"),
    ("finance", "Bikash Finance", True, False, "Finance"),
    ("host", "Sita Sings", False, False, None),
    ("host2", "Ram Raps", False, False, None),
    ("viewer", "Hari Viewer", False, False, None),
    ("viewer2", "Gita Viewer", False, False, None),
]


def seed(*, out: Callable[[str], None]) -> None:
    call_command("bootstrap_roles", stdout=io.StringIO())
    for username, display_name, is_staff, is_superuser, group in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "display_name": display_name,
                "email": f"{username}@demo.halobuzz.local",
                "date_of_birth": date(1995, 4, 14),
                "is_staff": is_staff,
                "is_superuser": is_superuser,
                "age_verification": User.AgeVerification.VERIFIED,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.email_verified_at = timezone.now()
            phone = DEMO_PHONES.get(username)
            if phone and not User.objects.filter(phone=phone).exists():
                user.phone, user.phone_verified_at = phone, timezone.now()
            user.save(update_fields=["password", "email_verified_at", "phone", "phone_verified_at"])
        if group:
            user.groups.add(Group.objects.get(name=group))
    names = ", ".join(u[0] for u in DEMO_USERS)
    out(f"Demo accounts (password for all: {DEMO_PASSWORD}): {names}")
    phones = ", ".join(f"{name} {phone}" for name, phone in DEMO_PHONES.items())
    out(f"Verified phones (reset by SMS; codes at /sandbox/sparrow/outbox/): {phones}")
