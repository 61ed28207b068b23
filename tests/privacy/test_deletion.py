"""Account deletion: re-authentication, what goes at once, the undo, and the final anonymisation
with the ledger kept whole (wallet_audit clean)."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.models import Block, Follow, User
from apps.live.models import RoomModerator, Stream
from apps.notifications.models import Device, Kind, Notification
from apps.privacy.models import AccountDeletion
from apps.privacy.services import account_deletion_finalise, account_deletions_finalise_due
from apps.privacy.tasks import account_deletions_finalise_due_task
from apps.reels.models import Reel
from apps.wallet.models import Account, CashoutRequest, JournalEntry
from apps.wallet.selectors import ledger_audit, user_balances
from apps.wallet.services import cashout_request, ledger_rollup, platform_account
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.core.errors import assert_error, assert_nothing_written, db_snapshot
from tests.gifts.factories import LiveStreamFactory
from tests.reels.factories import ReelFactory
from tests.wallet.factories import fund, host_earns_from_a_gift, payout_ready

DELETE = "/api/v1/me/deletion/"
UNDO = "/api/v1/me/deletion/undo/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
ME = "/api/v1/me/"


def delete_account(api_client, user: User, password: str = TEST_PASSWORD):
    tokens = account_services.tokens_issue(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = api_client.post(DELETE, {"password": password, "reason": "moving on"}, format="json")
    api_client.credentials()
    return response, tokens


def past_grace(deletion: AccountDeletion):
    return deletion.due_at + timedelta(seconds=1)


@pytest.mark.django_db
def test_deletion_needs_the_password_and_nothing_is_written_without_it(api_client, user, auth_client):
    # given a signed-in user
    client = auth_client(user)
    before = db_snapshot()
    # when they ask without their password, or with a wrong one
    missing = client.post(DELETE, {}, format="json")
    wrong = client.post(DELETE, {"password": "not-my-password"}, format="json")
    # then both are refused and nothing changed
    assert_error(missing, 403, "reauthentication_required")
    assert_error(wrong, 400, "wrong_password")
    assert_nothing_written(before)
    assert not AccountDeletion.objects.exists()
    assert client.get(ME).status_code == 200


@pytest.mark.django_db
def test_deletion_without_a_password_needs_a_fresh_sign_in(user, auth_client):
    # given an account with no usable password (signed up another way), last signed in an hour ago
    user.set_unusable_password()
    user.last_login = timezone.now() - timedelta(hours=1)
    user.save()
    client = auth_client(user)
    # when it asks to delete: refused until it signs in again
    assert_error(client.post(DELETE, {}, format="json"), 403, "reauthentication_required")
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    # then a recent sign-in is enough
    assert client.post(DELETE, {}, format="json").status_code == 202


@pytest.mark.django_db
def test_anonymous_callers_cannot_delete_or_undo_for_someone(api_client, user, other_user, auth_client):
    # nobody signed in: refused
    assert_error(api_client.post(DELETE, {"password": TEST_PASSWORD}, format="json"), 401)
    # another user's token with this user's password deletes nothing of this user's (it is checked
    # against the signed-in account, and the endpoint takes no user)
    response = auth_client(other_user).post(DELETE, {"password": "someone-elses-password"}, format="json")
    assert_error(response, 400, "wrong_password")
    assert User.objects.get(pk=user.pk).is_active
    # an undo needs the account's own credentials
    assert_error(api_client.post(UNDO, {"identifier": user.username, "password": "guess"}, format="json"), 401)


@pytest.mark.django_db
def test_deletion_at_once_ends_sessions_and_removes_profile_media_and_graph(
    api_client, user, other_user, auth_client, isolated_media, django_capture_on_commit_callbacks
):
    # given a user with an avatar, a reel, a live stream, follows both ways, a block and a room moderator role
    user.avatar.save("me.png", ContentFile(b"\x89PNG fake"), save=True)
    avatar_name = user.avatar.name
    reel = ReelFactory(author=user)
    video_name = reel.video.name
    stream = LiveStreamFactory(host=user)
    Follow.objects.create(follower=user, followee=other_user)
    Follow.objects.create(follower=other_user, followee=user)
    Block.objects.create(blocker=UserFactory(), blocked=user)
    RoomModerator.objects.create(host=other_user, moderator=user)
    Device.objects.create(user=user, token="phone-token-of-the-leaver", platform="android")
    Notification.objects.create(user=user, kind=Kind.NEW_FOLLOWER, params={"follower": other_user.name})
    assert default_storage.exists(avatar_name) and default_storage.exists(video_name)

    # when they delete their account
    with django_capture_on_commit_callbacks(execute=True):
        response, tokens = delete_account(api_client, user)

    # then it is accepted with the undo deadline
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["undo_until"]
    # and every session ended: the old access and refresh tokens are refused
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get(ME).status_code == 401
    api_client.credentials()
    assert api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 401
    # the profile is hidden from others, name and bio blanked
    assert auth_client(other_user).get(f"/api/v1/users/{user.username}/").status_code == 404
    user.refresh_from_db()
    assert not user.is_active and user.display_name == "" and user.bio == "" and not user.avatar
    # the stream ended, the media left storage, the graph and roles are gone
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.ENDED
    assert Reel.objects.get(pk=reel.pk).status == Reel.Status.DELETED
    assert not default_storage.exists(avatar_name) and not default_storage.exists(video_name)
    assert not Follow.objects.filter(follower=user).exists() and not Follow.objects.filter(followee=user).exists()
    assert not Block.objects.filter(blocked=user).exists()
    assert not RoomModerator.objects.filter(moderator=user).exists()
    # and no push reaches them any more: their devices and inbox are gone
    assert not Device.objects.filter(user=user).exists() and not Notification.objects.filter(user=user).exists()
    deletion = AccountDeletion.objects.get(user=user)
    assert (deletion.streams_ended, deletion.reels_deleted) == (1, 1)


@pytest.mark.django_db
def test_asking_twice_keeps_one_pending_deletion(api_client, user):
    first, _ = delete_account(api_client, user)
    assert first.status_code == 202
    # the user cannot sign in to ask again; the service returns the pending one
    from apps.privacy.services import account_deletion_request

    again = account_deletion_request(user=User.objects.get(pk=user.pk), password=TEST_PASSWORD)
    assert AccountDeletion.objects.filter(user=user).count() == 1
    assert again.status == AccountDeletion.Status.PENDING


@pytest.mark.django_db
def test_sign_in_during_grace_offers_the_undo_which_restores_the_account(api_client, user):
    # given a deleted account in its grace period
    name, bio = user.display_name, "hello"
    User.objects.filter(pk=user.pk).update(bio=bio)
    delete_account(api_client, user)
    # when it signs in: told it is being deleted and until when it can undo
    login = api_client.post(LOGIN, {"identifier": user.username, "password": TEST_PASSWORD}, format="json")
    error = assert_error(login, 403, "account_deletion_pending")
    assert error["details"]["undo_until"]
    # a wrong password learns nothing about the deletion
    wrong = api_client.post(LOGIN, {"identifier": user.username, "password": "nope"}, format="json")
    assert_error(wrong, 401, "invalid_credentials")
    # when it undoes with its credentials: signed in, name and bio back
    undo = api_client.post(UNDO, {"identifier": user.email, "password": TEST_PASSWORD}, format="json")
    assert undo.status_code == 200, undo.content
    assert undo.json()["user"]["display_name"] == name
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {undo.json()['tokens']['access']}")
    assert api_client.get(ME).json()["bio"] == bio
    api_client.credentials()
    relogin = api_client.post(LOGIN, {"identifier": user.username, "password": TEST_PASSWORD}, format="json")
    assert relogin.status_code == 200
    deletion = AccountDeletion.objects.get(user=user)
    assert deletion.status == AccountDeletion.Status.CANCELLED and deletion.restore == {}
    # and the sweep leaves it alone; a second undo has nothing to undo
    assert account_deletions_finalise_due(now=past_grace(deletion)) == 0
    again = api_client.post(UNDO, {"identifier": user.username, "password": TEST_PASSWORD}, format="json")
    assert_error(again, 409, "deletion_not_pending")


@pytest.mark.django_db
def test_undo_is_refused_once_the_grace_period_is_over(api_client, user):
    delete_account(api_client, user)
    AccountDeletion.objects.filter(user=user).update(due_at=timezone.now() - timedelta(minutes=1))
    response = api_client.post(UNDO, {"identifier": user.username, "password": TEST_PASSWORD}, format="json")
    assert_error(response, 409, "deletion_not_pending")
    assert not User.objects.get(pk=user.pk).is_active


@pytest.mark.django_db
@pytest.mark.parametrize("status", [CashoutRequest.Status.REQUESTED, CashoutRequest.Status.BATCHED])
def test_deletion_is_refused_while_a_cashout_waits_for_finance(settings, user, auth_client, status):
    # given a host whose cash-out is with Finance, or already in a payout batch sent to the provider
    settings.CASHOUT_MIN_COINS = 100
    host_earns_from_a_gift(user, coins=1_000)
    ledger_rollup()
    payout_ready(user)
    cashout = cashout_request(host=user, coins=100)
    CashoutRequest.objects.filter(pk=cashout.pk).update(status=status)
    client = auth_client(user)
    before = db_snapshot()
    # when they delete: refused, nothing written
    response = client.post(DELETE, {"password": TEST_PASSWORD}, format="json")
    assert_error(response, 409, "deletion_blocked_by_cashout")
    assert_nothing_written(before)


@pytest.mark.django_db
def test_final_deletion_forfeits_balances_to_revenue_keeps_the_ledger_and_frees_the_identifiers(api_client, user):
    # given a user with spendable coins and host earnings (partly not rolled up yet)
    fund(user, 700)
    host_earns_from_a_gift(user, coins=1_000)
    balances = user_balances(user=user)
    assert balances["coins"] == 700 and balances["earnings"] > 0
    revenue_before = platform_account(kind=Account.Kind.REVENUE)
    revenue_before_total = sum(p.amount for p in revenue_before.postings.all())
    username, email = user.username, user.email
    entries_before = set(JournalEntry.objects.filter(postings__account__owner=user).values_list("pk", flat=True))
    response, _ = delete_account(api_client, user)
    deletion = AccountDeletion.objects.get(pk=AccountDeletion.objects.get(user=user).pk)
    assert response.status_code == 202

    # when the grace period is over and the sweep runs (twice: the second run changes nothing)
    assert account_deletion_finalise(deletion_id=deletion.pk).status == AccountDeletion.Status.PENDING  # not yet due
    assert account_deletions_finalise_due(now=past_grace(deletion)) == 1
    assert account_deletions_finalise_due(now=past_grace(deletion)) == 0

    # then the balances moved to platform revenue in balanced entries; the old entries are all still there
    deletion.refresh_from_db()
    assert deletion.status == AccountDeletion.Status.COMPLETED
    assert (deletion.coins_forfeited, deletion.earnings_forfeited) == (700, balances["earnings"])
    assert user_balances(user=user) == {"coins": 0, "earnings": 0}
    revenue_total = sum(p.amount for p in platform_account(kind=Account.Kind.REVENUE).postings.all())
    assert revenue_total - revenue_before_total == 700 + balances["earnings"]
    assert entries_before <= set(
        JournalEntry.objects.filter(postings__account__owner=user).values_list("pk", flat=True)
    )
    assert JournalEntry.objects.filter(kind="account_closure").count() == 2
    assert ledger_audit() == []
    call_command("wallet_audit")  # raises CommandError on any discrepancy
    # the row is a tombstone: nothing identifies the person, nobody can sign in as it
    user.refresh_from_db()
    assert user.username == f"deleted-{user.pk}" and user.email is None and user.phone is None
    assert user.date_of_birth is None and not user.has_usable_password() and not user.is_active
    assert deletion.restore == {}
    assert_error(api_client.post(LOGIN, {"identifier": username, "password": TEST_PASSWORD}, format="json"), 401)
    assert_error(api_client.post(UNDO, {"identifier": username, "password": TEST_PASSWORD}, format="json"), 401)
    # and the username and email are free for someone new
    assert UserFactory(username=username, email=email).pk != user.pk


@pytest.mark.django_db
def test_finalisation_waits_for_a_cashout_requested_meanwhile(api_client, settings, user):
    settings.CASHOUT_MIN_COINS = 100
    host_earns_from_a_gift(user, coins=1_000)
    ledger_rollup()
    payout_ready(user)
    delete_account(api_client, user)
    cashout_request(host=User.objects.get(pk=user.pk), coins=100)  # raced in before the deletion locked anything
    deletion = AccountDeletion.objects.get(user=user)
    assert account_deletions_finalise_due(now=past_grace(deletion)) == 0
    assert AccountDeletion.objects.get(pk=deletion.pk).status == AccountDeletion.Status.PENDING
    assert ledger_audit() == []


@pytest.mark.django_db
def test_the_beat_sweep_is_scheduled_and_its_task_finalises(api_client, settings, user):
    assert settings.CELERY_BEAT_SCHEDULE["privacy-account-deletions-finalise-due"]["task"] == (
        "privacy.account_deletions_finalise_due"
    )
    fund(user, 50)
    delete_account(api_client, user)
    AccountDeletion.objects.filter(user=user).update(due_at=timezone.now() - timedelta(seconds=1))
    assert account_deletions_finalise_due_task.delay().get() == 1
    assert AccountDeletion.objects.get(user=user).status == AccountDeletion.Status.COMPLETED
    call_command("wallet_audit")


@pytest.mark.django_db(transaction=True)
def test_concurrent_deletion_requests_make_one(user, race):
    from apps.privacy.services import account_deletion_request

    results = race([lambda: account_deletion_request(user=User.objects.get(pk=user.pk), password=TEST_PASSWORD)] * 4)
    assert {deletion.pk for deletion in results} == {AccountDeletion.objects.get(user=user).pk}
