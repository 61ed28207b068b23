"""Enforcement explanations are shown in the reader's language (English stays in the back office)."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import translation

from apps.accounts.models import User
from apps.moderation import services
from apps.moderation.explanations import enforcement_explanation
from apps.moderation.models import Case, Enforcement, ModerationSettings
from apps.moderation.services.sanctions import strikes_apply
from tests.accounts.factories import UserFactory
from tests.moderation.factories import LiveStreamFactory

pytestmark = pytest.mark.django_db
ENFORCEMENTS = "/api/v1/moderation/enforcements/"
WARNING_NE = "मोडरेटरबाट चेतावनी: Keep it clean"


@pytest.fixture(autouse=True)
def _english_after():
    with translation.override(settings.LANGUAGE_CODE):
        yield


@pytest.fixture
def warned_host(auth_client):
    call_command("bootstrap_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    moderator = UserFactory(is_staff=True)
    moderator.groups.add(Group.objects.get(name="Moderators"))
    moderator = User.objects.get(pk=moderator.pk)
    stream = LiveStreamFactory()
    report = {"target_type": "stream", "target_id": stream.pk, "reason": "nudity"}
    response = auth_client(UserFactory()).post("/api/v1/moderation/reports/", report, format="json")
    assert response.status_code == 201, response.json()
    services.case_act(actor=moderator, case_id=Case.objects.get().pk, action="warn", reason="Keep it clean")
    return stream.host


def test_the_explanation_follows_accept_language_and_the_back_office_keeps_english(auth_client, warned_host):
    client = auth_client(warned_host)
    nepali = client.get(ENFORCEMENTS, HTTP_ACCEPT_LANGUAGE="ne").json()["results"][0]
    english = client.get(ENFORCEMENTS, HTTP_ACCEPT_LANGUAGE="en").json()["results"][0]
    assert nepali["explanation"] == WARNING_NE  # the moderator's own words are shown as written
    assert english["explanation"] == "Warning from a moderator: Keep it clean"
    assert nepali["kind"] == english["kind"] == "warning" and nepali["rule"] == english["rule"]
    assert Enforcement.objects.get().explanation == "Warning from a moderator: Keep it clean"


def test_a_saved_preference_gives_the_explanation_in_nepali_without_a_header(auth_client, warned_host):
    client = auth_client(warned_host)
    assert client.patch("/api/v1/me/", {"language": "ne"}, format="json").status_code == 200
    assert client.get(ENFORCEMENTS).json()["results"][0]["explanation"] == WARNING_NE


def test_a_suspension_for_strikes_explains_its_numbers_in_devanagari():
    # given a host with three strikes where three suspend for 7 days (window 30 days)
    conf = ModerationSettings.objects.get_or_create(pk=1)[0]
    conf.strikes_to_suspend, conf.suspension_days, conf.strike_window_days = 3, 7, 30
    conf.save()
    host = UserFactory()
    for _ in range(3):
        Enforcement.objects.create(user=host, kind=Enforcement.Kind.STRIKE, rule="nsfw_frame", explanation="x")

    suspension = strikes_apply(host_id=host.pk, case=None)

    assert suspension is not None
    assert suspension.explanation == "Suspended for 7 days: 3 strikes within 30 days."
    with translation.override("ne"):
        assert enforcement_explanation(suspension) == "७ दिनका लागि निलम्बित: ३० दिनभित्र ३ स्ट्राइक।"
