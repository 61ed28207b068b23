import re
from datetime import date

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.sms import sandbox as sms_sandbox

TEST_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    # A set-up account, as age_verification below: a verified phone (going live and payouts need one).
    # Pass phone=None, phone_verified_at=None for a username sign-up that never proved one.
    phone = factory.Sequence(lambda n: f"+977986{n:07d}")
    phone_verified_at = factory.LazyAttribute(lambda u: timezone.now() if u.phone else None)
    date_of_birth = date(1996, 1, 15)
    age_verification = User.AgeVerification.VERIFIED
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save(update_fields=["password"])


def member(role: str) -> User:
    """An account of `role`: "user", "superuser", or a staff group made by `bootstrap_roles` ("Ops",
    "Finance", "Moderators"). Read back, so no permission cache from before the group sticks."""
    if role == "user":
        return UserFactory()
    if role == "superuser":
        return UserFactory(is_staff=True, is_superuser=True)
    account = UserFactory(is_staff=True)
    account.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=account.pk)


def sms_point_at_sandbox(settings, base_url: str) -> None:
    """Send SMS to the Sparrow SMS sandbox served at base_url (a live server)."""
    settings.SMS_SANDBOX_ENABLED = True
    settings.SPARROW_SMS_BASE_URL = f"{base_url}/sandbox/sparrow/v2/"
    settings.SPARROW_SMS_TOKEN = sms_sandbox.SANDBOX_TOKEN
    settings.SPARROW_SMS_FROM = sms_sandbox.SANDBOX_SENDER


def sms_code_sent(number: str) -> str:
    """The code in the latest message the sandbox delivered to a 10-digit number."""
    for message in sms_sandbox.outbox():
        if message["to"] == number:
            found = re.search(r"\b(\d{6})\b", message["text"])
            if found:
                return found.group(1)
    raise AssertionError(f"no SMS with a code to {number}")
