"""Separation of duties: staff act only on accounts below their role (superuser > Ops > Finance and
Moderators > users), in the services and in the admin; nobody acts on themselves."""

import io

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command

from apps.accounts import services
from apps.accounts.exceptions import OwnRequest, RankTooLow
from apps.accounts.models import User
from tests.accounts.factories import UserFactory, member

CHANGELIST = "/admin/accounts/user/"
RANK = {"superuser": 3, "Ops": 2, "Finance": 1, "Moderators": 1, "user": 0}
ROLES = list(RANK)
ADMIN_ACTORS = ["superuser", "Ops", "Moderators"]  # the roles that may change users in the admin


@pytest.fixture(autouse=True)
def _roles(db, settings):
    settings.ADMIN_REQUIRE_2FA = False
    call_command("bootstrap_roles", stdout=io.StringIO())


@pytest.mark.django_db
@pytest.mark.parametrize("target_role", ROLES)
@pytest.mark.parametrize("actor_role", ROLES)
def test_the_ban_and_unban_services_allow_only_accounts_below_the_actor(actor_role, target_role):
    actor, target = member(actor_role), member(target_role)

    if RANK[actor_role] > RANK[target_role]:
        services.user_ban(user=target, days=1, reason="test", by=actor)
        assert User.objects.get(pk=target.pk).is_banned
        services.user_unban(user=target, by=actor)
        assert not User.objects.get(pk=target.pk).is_banned
    else:
        with pytest.raises(RankTooLow):
            services.user_ban(user=target, days=1, reason="test", by=actor)
        assert not User.objects.get(pk=target.pk).is_banned
        target.banned_until, target.ban_reason = None, ""
        services.user_ban(user=target, days=1, reason="by the system")  # no acting staff: jobs, moderation rules
        with pytest.raises(RankTooLow):
            services.user_unban(user=target, by=actor)
        assert User.objects.get(pk=target.pk).is_banned


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_nobody_bans_or_unbans_themselves(role):
    actor = member(role)
    with pytest.raises(OwnRequest):
        services.user_ban(user=actor, days=1, reason="test", by=actor)
    with pytest.raises(OwnRequest):
        services.user_unban(user=actor, by=actor)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
@pytest.mark.parametrize("target_role", [*ROLES, "self"])
@pytest.mark.parametrize("actor_role", ADMIN_ACTORS)
def test_admin_ban_action_changes_only_accounts_below_the_actor(client, actor_role, target_role):
    actor = member(actor_role)
    target = actor if target_role == "self" else member(target_role)
    bystander = UserFactory()  # selected together with the target: all or nothing
    client.force_login(actor)

    response = client.post(
        CHANGELIST, {"action": "ban_7_days", "_selected_action": [target.pk, bystander.pk]}, follow=True
    )

    assert response.status_code == 200
    allowed = target_role != "self" and RANK[actor_role] > RANK[target_role]
    assert User.objects.get(pk=target.pk).is_banned is allowed
    assert User.objects.get(pk=bystander.pk).is_banned is allowed
    if not allowed:
        assert any("Nothing was changed" in m and target.username in m for m in _messages(response))


@pytest.mark.django_db
@pytest.mark.parametrize("target_role", [*ROLES, "self"])
@pytest.mark.parametrize("actor_role", ADMIN_ACTORS)
def test_admin_edit_and_deactivate_only_accounts_below_the_actor(client, actor_role, target_role):
    actor = member(actor_role)
    target = actor if target_role == "self" else member(target_role)
    client.force_login(actor)
    form = {
        "username": target.username,
        "display_name": "Renamed",
        "email": target.email,
        "country": "NP",
        "age_verification": "verified",
        # is_active left out: the form deactivates the account
        "is_staff": "on" if target.is_staff else "",
        "is_superuser": "on" if target.is_superuser else "",
        "groups": list(target.groups.values_list("pk", flat=True)),
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }

    response = client.post(f"{CHANGELIST}{target.pk}/change/", form)

    target.refresh_from_db()
    if target_role != "self" and RANK[actor_role] > RANK[target_role]:
        assert response.status_code == 302, response.content[:2000]
        assert not target.is_active and target.display_name == "Renamed"
    else:
        assert response.status_code == 403
        assert target.is_active and target.display_name != "Renamed"
