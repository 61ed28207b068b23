"""The users admin (search, filters, ban/unban actions), who may reach it, and `bootstrap_roles`."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.accounts import services
from apps.accounts.models import User
from apps.core.management.commands.bootstrap_roles import ROLE_NAMES, gather_role_permissions
from tests.accounts.factories import UserFactory

CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def roles(db):
    call_command("bootstrap_roles", stdout=io.StringIO())


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    return client


def staff_client(client, group: str):
    member = UserFactory(is_staff=True)
    member.groups.add(Group.objects.get(name=group))
    client.force_login(member)
    return client, member


def run_action(client, action: str, users):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [u.pk for u in users]}, follow=True)


# --- Changelist -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_changelist_searches_by_name_email_and_phone(admin_client):
    UserFactory(username="sita_sings", display_name="Sita", email="sita@example.com")
    UserFactory(username="ram_raps", display_name="Ram", phone="+9779800000042")

    for query, expected, absent in [
        ("sita", "sita_sings", "ram_raps"),
        ("+9779800000042", "ram_raps", "sita_sings"),
        ("sita@example", "sita_sings", "ram_raps"),
    ]:
        response = admin_client.get(CHANGELIST, {"q": query})
        assert response.status_code == 200
        names = [u.username for u in response.context["cl"].result_list]
        assert expected in names and absent not in names


@pytest.mark.django_db
def test_changelist_filters_banned_and_age_verification(admin_client):
    banned = UserFactory(username="banned_one")
    services.user_ban(user=banned, days=3, reason="spam")
    expired = UserFactory(username="was_banned", banned_until=timezone.now() - timedelta(days=1))
    pending = UserFactory(username="maybe_minor", age_verification=User.AgeVerification.PENDING_REVIEW)

    def listed(**params) -> set[str]:
        response = admin_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return {u.username for u in response.context["cl"].result_list}

    assert listed(banned="yes") == {"banned_one"}
    assert "banned_one" not in listed(banned="no") and expired.username in listed(banned="no")
    assert listed(age_verification__exact="pending_review") == {pending.username}
    assert "boss" in listed(is_staff__exact="1")


@pytest.mark.django_db
def test_changelist_queries_do_not_grow_with_the_number_of_users(admin_client):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(queries)

    UserFactory.create_batch(3)
    few = count_queries()
    UserFactory.create_batch(30)
    assert count_queries() == few


# --- Actions ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ban_actions_set_banned_until_and_revoke_sessions(admin_client):
    # given two users with live sessions
    week, forever = UserFactory(), UserFactory()
    for target in (week, forever):
        services.tokens_issue(user=target)
    bystander = UserFactory()
    services.tokens_issue(user=bystander)

    # when the admin bans one for a week and one permanently
    response = run_action(admin_client, "ban_7_days", [week])
    run_action(admin_client, "ban_permanently", [forever])

    # then each is banned for that long, with who did it as the reason, and every refresh token is revoked
    assert response.status_code == 200
    assert "Banned 1 user(s) for 7 days." in [str(m) for m in response.context["messages"]]
    week.refresh_from_db()
    forever.refresh_from_db()
    assert timedelta(days=6, hours=23) < week.banned_until - timezone.now() <= timedelta(days=7)
    assert forever.banned_until - timezone.now() > timedelta(days=365 * 99)
    assert "by boss in admin" in week.ban_reason
    for target in (week, forever):
        outstanding = OutstandingToken.objects.filter(user=target)
        assert outstanding.exists()
        assert BlacklistedToken.objects.filter(token__in=outstanding).count() == outstanding.count()
    assert not BlacklistedToken.objects.filter(token__user=bystander).exists()
    assert not bystander.is_banned


@pytest.mark.django_db
def test_unban_action_lifts_the_ban(admin_client):
    target = UserFactory()
    services.user_ban(user=target, days=None, reason="abuse")

    response = run_action(admin_client, "unban", [target])

    assert "Unbanned 1 user(s)." in [str(m) for m in response.context["messages"]]
    target.refresh_from_db()
    assert target.banned_until is None and target.ban_reason == "" and not target.is_banned


@pytest.mark.django_db
def test_moderators_can_ban_but_finance_cannot(client, roles):
    target = UserFactory()
    finance_client, _ = staff_client(client, "Finance")
    run_action(finance_client, "ban_7_days", [target])
    target.refresh_from_db()
    assert target.banned_until is None

    client.logout()
    moderator_client, _ = staff_client(client, "Moderators")
    run_action(moderator_client, "ban_7_days", [target])
    target.refresh_from_db()
    assert target.is_banned


@pytest.mark.django_db
def test_a_moderator_cannot_grant_themselves_privileges_or_set_passwords(client, roles):
    # given a moderator editing their own user in the admin
    moderator_client, moderator = staff_client(client, "Moderators")
    url = f"{CHANGELIST}{moderator.pk}/change/"
    page = moderator_client.get(url)
    assert page.status_code == 200

    # when they post the form with superuser status and every group ticked
    form = {
        "username": moderator.username,
        "display_name": "Mod",
        "email": moderator.email,
        "country": "NP",
        "age_verification": "verified",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [g.pk for g in Group.objects.all()],
        "user_permissions": [p.pk for p in Permission.objects.all()[:5]],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    moderator_client.post(url, form)

    # then the profile may change but the privileges stay as they were
    moderator.refresh_from_db()
    assert not moderator.is_superuser
    assert list(moderator.groups.values_list("name", flat=True)) == ["Moderators"]
    assert not moderator.user_permissions.exists()
    # and they cannot set anyone's password
    victim = UserFactory()
    assert moderator_client.get(f"{CHANGELIST}{victim.pk}/password/").status_code == 403


@pytest.mark.django_db
def test_a_superuser_can_still_edit_privileges(admin_client):
    target = UserFactory()
    page = admin_client.get(f"{CHANGELIST}{target.pk}/change/")
    assert "is_superuser" in page.context["adminform"].form.fields
    assert admin_client.get(f"{CHANGELIST}{target.pk}/password/").status_code == 200


# --- Who may reach the admin ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/", CHANGELIST, "/admin/auth/group/"])
def test_non_staff_users_and_anonymous_visitors_cannot_reach_the_admin(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")

    client.force_login(UserFactory(is_staff=False))
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_a_non_staff_user_cannot_log_in_to_the_admin(client):
    from tests.accounts.factories import TEST_PASSWORD

    user = UserFactory(is_staff=False)
    response = client.post("/admin/login/?next=/admin/", {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_admin_is_branded(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "HaloBuzz" in response.content.decode()


# --- bootstrap_roles --------------------------------------------------------------------------


def role_permissions() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }


@pytest.mark.django_db
def test_bootstrap_roles_creates_the_three_groups_with_their_permissions():
    out = io.StringIO()
    call_command("bootstrap_roles", stdout=out)

    created = role_permissions()
    assert set(created) >= set(ROLE_NAMES)
    expected = gather_role_permissions()
    for role in ROLE_NAMES:
        assert created[role] == expected[role], role
        assert created[role], f"{role} has no permissions"
    assert "accounts.change_user" in created["Moderators"]
    assert "accounts.change_user" not in created["Finance"]
    assert "Moderators:" in out.getvalue()


@pytest.mark.django_db
def test_bootstrap_roles_is_idempotent_and_restores_exactly_the_listed_permissions():
    call_command("bootstrap_roles", stdout=io.StringIO())
    first = role_permissions()
    group_ids = sorted(Group.objects.values_list("pk", flat=True))

    # someone hand-edits a group: drops a permission and adds an unrelated one
    moderators = Group.objects.get(name="Moderators")
    moderators.permissions.remove(Permission.objects.get(codename="change_user"))
    moderators.permissions.add(Permission.objects.get(codename="delete_user"))
    call_command("bootstrap_roles", stdout=io.StringIO())
    call_command("bootstrap_roles", stdout=io.StringIO())

    assert role_permissions() == first
    assert sorted(Group.objects.values_list("pk", flat=True)) == group_ids
