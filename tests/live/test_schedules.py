"""Scheduled streams: a host announces a stream, followers subscribe, each schedule's reminder is
claimed once shortly before the start, going live near the start links it, and a schedule never
started by its no-show time shows as missed to the host."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import block_create, follow_create
from apps.live import selectors, services
from apps.live.models import ScheduledStream, ScheduleSubscription
from tests.accounts.factories import UserFactory
from tests.live.factories import CategoryFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/streams/schedules/"


def in_minutes(minutes: float) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


def schedule_at(host: User, minutes: float, title: str = "Evening songs") -> ScheduledStream:
    """A schedule starting `minutes` from now (negative: already past), written directly."""
    return ScheduledStream.objects.create(host=host, title=title, starts_at=timezone.now() + timedelta(minutes=minutes))


def test_a_host_schedules_a_stream_and_a_follower_subscribes_and_finds_it(auth_client):
    # given a host and a follower
    host, fan = UserFactory(), UserFactory()
    follow_create(follower=fan, followee=host)
    CategoryFactory(slug="music")

    # when the host schedules a stream for tomorrow and the follower subscribes, twice (a retry)
    created = auth_client(host).post(
        URL, {"title": "Dashain songs", "category": "Music", "starts_at": in_minutes(24 * 60)}, format="json"
    )
    assert created.status_code == 201, created.content
    schedule_id = created.json()["id"]
    first = auth_client(fan).put(f"{URL}{schedule_id}/subscription/")
    again = auth_client(fan).put(f"{URL}{schedule_id}/subscription/")

    # then it is upcoming with one subscriber, in the host's list and in the follower's "following" list
    assert first.status_code == 201 and again.status_code == 200
    body = again.json()
    assert body["status"] == "upcoming" and body["subscribers_count"] == 1 and body["subscribed"] is True
    assert body["category"] == "music" and body["host"]["id"] == host.pk
    by_host = auth_client(fan).get(URL, {"host": host.username}).json()["results"]
    following = auth_client(fan).get(URL, {"following": "true"}).json()["results"]
    assert [s["id"] for s in by_host] == [s["id"] for s in following] == [schedule_id]
    assert ScheduleSubscription.objects.filter(schedule_id=schedule_id).count() == 1

    # and unsubscribing stops the reminder
    assert auth_client(fan).delete(f"{URL}{schedule_id}/subscription/").status_code == 204
    assert not ScheduleSubscription.objects.filter(schedule_id=schedule_id).exists()


@pytest.mark.parametrize("minutes", [1, 31 * 24 * 60, -60])
def test_a_start_too_soon_too_far_or_past_is_refused_and_nothing_is_written(auth_client, minutes):
    host = UserFactory()
    response = auth_client(host).post(URL, {"title": "Later", "starts_at": in_minutes(minutes)}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "schedule_time_invalid"
    assert set(response.json()["details"]) == {"earliest", "latest"}
    assert not ScheduledStream.objects.exists()


def test_accounts_that_could_not_go_live_cannot_schedule(auth_client):
    unverified = UserFactory(age_verification=User.AgeVerification.UNVERIFIED)
    banned = UserFactory(banned_until=timezone.now() + timedelta(days=1))
    for user, code in ((unverified, "age_verification_required"), (banned, "account_banned")):
        response = auth_client(user).post(URL, {"title": "x", "starts_at": in_minutes(60)}, format="json")
        assert response.status_code == 403, response.content
        assert response.json()["code"] == code
    assert not ScheduledStream.objects.exists()


@override_settings(LIVE_SCHEDULE_MAX_UPCOMING=2)
def test_a_host_has_at_most_the_upcoming_schedules_allowed_and_past_ones_do_not_count(auth_client):
    host = UserFactory()
    schedule_at(host, -120)  # missed: does not count
    for hours in (1, 2):
        assert (
            auth_client(host).post(URL, {"title": "t", "starts_at": in_minutes(hours * 60)}, format="json").status_code
            == 201
        )
    refused = auth_client(host).post(URL, {"title": "t", "starts_at": in_minutes(180)}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "schedule_limit" and refused.json()["details"] == {"max": 2}


def test_only_the_host_changes_or_cancels_a_schedule(auth_client):
    # given a host's schedule and another user
    host, other = UserFactory(), UserFactory()
    schedule = schedule_at(host, 60)
    detail = f"{URL}{schedule.pk}/"

    # when the other user tries to change and cancel it
    assert auth_client(other).patch(detail, {"title": "mine now"}, format="json").status_code == 404
    assert auth_client(other).delete(detail).status_code == 404

    # then nothing changed; the host can
    schedule.refresh_from_db()
    assert schedule.title == "Evening songs" and schedule.cancelled_at is None
    changed = auth_client(host).patch(detail, {"title": "Morning songs"}, format="json")
    assert changed.status_code == 200 and changed.json()["title"] == "Morning songs"
    cancelled = auth_client(host).delete(detail)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert auth_client(host).patch(detail, {"title": "again"}, format="json").json()["code"] == "schedule_closed"


def test_subscribing_is_refused_to_the_host_to_a_blocked_user_and_to_a_cancelled_schedule(auth_client):
    host, blocked, fan = UserFactory(), UserFactory(), UserFactory()
    block_create(blocker=host, blocked=blocked)
    schedule = schedule_at(host, 60)
    own = auth_client(host).put(f"{URL}{schedule.pk}/subscription/")
    assert own.status_code == 400 and own.json()["code"] == "schedule_own_subscription"
    assert auth_client(blocked).put(f"{URL}{schedule.pk}/subscription/").json()["code"] == "user_blocked"
    assert auth_client(blocked).get(f"{URL}{schedule.pk}/").status_code == 404
    services.schedule_cancel(host=host, schedule_id=schedule.pk)
    closed = auth_client(fan).put(f"{URL}{schedule.pk}/subscription/")
    assert closed.status_code == 409 and closed.json()["details"] == {"status": "cancelled"}
    assert not ScheduleSubscription.objects.exists()


def test_going_live_near_the_start_links_the_schedule_and_it_leaves_the_upcoming_list(auth_client):
    # given a host with a schedule 10 minutes ahead and another for tomorrow, and a viewer
    host, viewer = UserFactory(), UserFactory()
    soon, tomorrow = schedule_at(host, 10), schedule_at(host, 24 * 60)

    # when the host goes live now
    stream = services.stream_go_live(host=host, title="Evening songs")

    # then the near one is started by that stream; tomorrow's stays upcoming
    soon.refresh_from_db()
    tomorrow.refresh_from_db()
    assert soon.stream_id == stream.pk and tomorrow.stream_id is None
    listed = auth_client(viewer).get(URL, {"host": host.username}).json()["results"]
    assert [s["id"] for s in listed] == [tomorrow.pk]
    mine = {s["id"]: s for s in auth_client(host).get(f"{URL}mine/").json()["results"]}
    assert mine[soon.pk]["status"] == "started" and mine[soon.pk]["stream_id"] == stream.pk


def test_a_schedule_not_started_by_its_no_show_time_is_missed_in_the_hosts_list(auth_client):
    host = UserFactory()
    missed, late_but_open = schedule_at(host, -45), schedule_at(host, -10)
    mine = {s["id"]: s["status"] for s in auth_client(host).get(f"{URL}mine/").json()["results"]}
    assert mine == {missed.pk: "missed", late_but_open.pk: "upcoming"}
    # and going live now links the one still open, not the missed one
    stream = services.stream_go_live(host=host, title="sorry, late")
    late_but_open.refresh_from_db()
    missed.refresh_from_db()
    assert late_but_open.stream_id == stream.pk and missed.stream_id is None


def test_the_reminder_of_each_schedule_is_claimed_once_and_goes_to_its_active_unblocked_subscribers():
    # given schedules starting in 5 minutes (with three subscribers, one blocked by the host since and
    # one deactivated), in 2 hours, and a cancelled one in 5 minutes
    host = UserFactory()
    due, cancelled = schedule_at(host, 5), schedule_at(host, 5)
    schedule_at(host, 120)  # not due yet
    services.schedule_cancel(host=host, schedule_id=cancelled.pk)
    fan, blocked, gone = UserFactory(), UserFactory(), UserFactory()
    for user in (fan, blocked, gone):
        services.schedule_subscribe(user=user, schedule_id=due.pk)
    block_create(blocker=host, blocked=blocked)
    User.objects.filter(pk=gone.pk).update(is_active=False)

    # when the reminder sweep runs twice
    first = services.schedule_reminders_claim()
    second = services.schedule_reminders_claim()

    # then only the due schedule was claimed, once, and it reminds the one remaining subscriber
    assert [s.pk for s in first] == [due.pk] and second == []
    assert selectors.schedule_subscriber_ids(schedule=first[0]) == [fan.pk]


def test_a_new_start_time_is_reminded_of_afresh():
    host = UserFactory()
    schedule = schedule_at(host, 5)
    assert [s.pk for s in services.schedule_reminders_claim()] == [schedule.pk]
    services.schedule_update(host=host, schedule_id=schedule.pk, starts_at=timezone.now() + timedelta(minutes=8))
    assert [s.pk for s in services.schedule_reminders_claim()] == [schedule.pk]


@pytest.mark.django_db(transaction=True)
@override_settings(LIVE_SCHEDULE_MAX_UPCOMING=1)
def test_two_schedules_created_at_once_cannot_pass_the_limit_together():
    host = UserFactory()
    results: list[str] = []

    def create() -> None:
        try:
            services.schedule_create(
                host=User.objects.get(pk=host.pk), title="race", starts_at=timezone.now() + timedelta(hours=1)
            )
            results.append("ok")
        except Exception as error:  # noqa: BLE001  # the losing thread's refusal is the result
            results.append(getattr(error, "code", repr(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "schedule_limit", "schedule_limit", "schedule_limit"]
    assert ScheduledStream.objects.filter(host=host).count() == 1
