"""Separation of duties in the moderator queue: no case about oneself (one's own appeal or age
review included), and no sanction on staff at or above one's role."""

import io

import pytest
from django.core.management import call_command

from apps.accounts.exceptions import OwnRequest, RankTooLow
from apps.accounts.models import User
from apps.moderation import services
from apps.moderation.models import Case
from tests.accounts.factories import member
from tests.moderation.factories import ReportCaseFactory

pytestmark = pytest.mark.django_db
RANK = {"superuser": 3, "Ops": 2, "Finance": 1, "Moderators": 1, "user": 0}


@pytest.fixture(autouse=True)
def _roles():
    call_command("bootstrap_roles", stdout=io.StringIO())


@pytest.mark.parametrize("subject_role", list(RANK))
@pytest.mark.parametrize("actor_role", ["superuser", "Moderators"])  # who may act on cases
def test_a_sanction_through_a_case_hits_only_accounts_below_the_moderator(actor_role, subject_role):
    actor, subject = member(actor_role), member(subject_role)
    case = ReportCaseFactory(subject=subject)

    if RANK[actor_role] > RANK[subject_role]:
        services.case_act(actor=actor, case_id=case.pk, action="suspend", reason="abuse", days=3)
        assert User.objects.get(pk=subject.pk).is_banned
    else:
        with pytest.raises(RankTooLow):
            services.case_act(actor=actor, case_id=case.pk, action="suspend", reason="abuse", days=3)
        assert not User.objects.get(pk=subject.pk).is_banned
        assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
        # dismissing a report about a colleague is no sanction
        services.case_act(actor=actor, case_id=case.pk, action="dismiss", reason="unfounded")


@pytest.mark.parametrize("action", ["dismiss", "warn", "suspend"])
def test_nobody_decides_a_case_about_themselves(action):
    moderator = member("Moderators")
    case = ReportCaseFactory(subject=moderator)

    with pytest.raises(OwnRequest):
        services.case_act(actor=moderator, case_id=case.pk, action=action, reason="mine", days=1)

    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
    assert not User.objects.get(pk=moderator.pk).is_banned
