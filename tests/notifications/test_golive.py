"""Go-live alerts: followers with alerts on get one each, in their language, batched, deduplicated,
and nobody is alerted for a stream that is no longer live (ended by moderation or otherwise)."""

import pytest
from django.db import transaction

from apps.accounts.services import follow_create
from apps.live.services import stream_end, stream_go_live
from apps.notifications.models import Device, Kind, Notification
from apps.notifications.services import golive_batch, preference_update
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def host(db):
    return UserFactory(display_name="Sita Sings")


def _followers(host, device_of, n: int, **user_fields):
    users = []
    for _ in range(n):
        user = UserFactory(**user_fields)
        follow_create(follower=user, followee=host)
        device_of(user)
        users.append(user)
    return users


def _go_live(host, capture, title: str = "Evening songs"):
    with capture(execute=True):
        return stream_go_live(host=host, title=title)


def test_every_follower_with_alerts_on_gets_one_alert_in_their_language(
    fcm, device_of, host, settings, django_capture_on_commit_callbacks
):
    # given five followers (two read Nepali, one turned go-live alerts off), batches of two
    settings.NOTIFICATION_FANOUT_BATCH = 2
    english = _followers(host, device_of, 2, language="en")
    nepali = _followers(host, device_of, 2, language="ne")
    (muted,) = _followers(host, device_of, 1)
    preference_update(user=muted, go_live=False)
    # when the host goes live
    stream = _go_live(host, django_capture_on_commit_callbacks)
    # then each follower but the muted one has one go-live item, pushed in their language
    alerted = set(Notification.objects.filter(kind=Kind.GO_LIVE).values_list("user_id", flat=True))
    assert alerted == {u.pk for u in english + nepali}
    assert fcm.counts()["accepted"] == 4
    titles = {m["title"] for m in fcm.messages_recent()}
    assert titles == {"Sita Sings is live", "Sita Sings लाइभ हुनुहुन्छ"}
    item = Notification.objects.filter(user=english[0]).get()
    assert item.params["stream_id"] == stream.pk
    assert item.pushed_at is not None


def test_a_restarted_stream_does_not_alert_again_within_the_window(
    fcm, device_of, host, django_capture_on_commit_callbacks
):
    followers = _followers(host, device_of, 3)
    first = _go_live(host, django_capture_on_commit_callbacks)
    stream_end(stream_id=first.pk, reason="host_ended")
    # when the host goes live again minutes later
    _go_live(host, django_capture_on_commit_callbacks, title="Back again")
    # then nobody got a second alert
    assert Notification.objects.filter(kind=Kind.GO_LIVE).count() == len(followers)
    assert fcm.counts()["accepted"] == len(followers)


def test_nothing_is_sent_for_a_stream_ended_by_moderation_before_its_batch(fcm, device_of, host):
    # given a stream a moderator ended before its alert batch ran
    followers = _followers(host, device_of, 2)
    with transaction.atomic():  # the fan-out is queued on commit, after the cut
        stream = stream_go_live(host=host, title="Cut")
        stream_end(stream_id=stream.pk, reason="nsfw", by_moderation=True)
    assert not Notification.objects.filter(kind=Kind.GO_LIVE).exists()
    # and when a batch queued before the cut runs after it
    report = golive_batch(stream_id=stream.pk, follower_ids=[u.pk for u in followers], params={"host": "x"})
    # then nothing was created or sent
    assert report.sent == 0
    assert not Notification.objects.filter(kind=Kind.GO_LIVE).exists()
    assert fcm.counts() == {"token_exchanges": 0, "accepted": 0, "refused": 0}


def test_a_dead_token_among_followers_is_dropped_and_the_rest_still_alerted(
    fcm, device_of, host, django_capture_on_commit_callbacks
):
    followers = _followers(host, device_of, 3)
    dead = Device.objects.get(user=followers[1])
    fcm.scenario_set(dead.token, unregistered=True)
    _go_live(host, django_capture_on_commit_callbacks)
    assert fcm.counts()["accepted"] == 2
    assert not Device.objects.filter(pk=dead.pk).exists()
