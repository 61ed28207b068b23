"""Scheduled streams' reminders: shortly before the start, each subscriber gets one inbox item and a
push in their language (none when they turned reminders off), through the FCM sandbox; a second sweep
reminds nobody again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.live.models import ScheduledStream
from apps.live.services import schedule_subscribe
from apps.notifications.models import Kind, Notification
from apps.notifications.services import preference_update, schedule_reminders_send
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_subscribers_are_reminded_once_in_their_language_and_a_muted_one_only_in_the_inbox(
    fcm, device_of, settings, django_capture_on_commit_callbacks
):
    # given a schedule starting in 5 minutes with three subscribers (one reads Nepali, one turned
    # reminders off), batches of two, and a schedule for tomorrow with a subscriber
    settings.NOTIFICATION_FANOUT_BATCH = 2
    host = UserFactory(display_name="Sita Sings")
    soon = ScheduledStream.objects.create(
        host=host, title="Tihar songs", starts_at=timezone.now() + timedelta(minutes=5)
    )
    later = ScheduledStream.objects.create(host=host, title="Later", starts_at=timezone.now() + timedelta(days=1))
    english, nepali, muted, tomorrow = (
        UserFactory(language="en"),
        UserFactory(language="ne"),
        UserFactory(),
        UserFactory(),
    )
    for user in (english, nepali, muted):
        device_of(user)
        schedule_subscribe(user=user, schedule_id=soon.pk)
    device_of(tomorrow)
    schedule_subscribe(user=tomorrow, schedule_id=later.pk)
    preference_update(user=muted, stream_reminder=False)

    # when the reminder sweep runs, twice
    assert schedule_reminders_send() == 2
    assert schedule_reminders_send() == 0

    # then the three subscribers of the near schedule have one reminder each; two were pushed
    reminded = Notification.objects.filter(kind=Kind.STREAM_REMINDER)
    assert sorted(reminded.values_list("user_id", flat=True)) == sorted([english.pk, nepali.pk, muted.pk])
    assert fcm.counts()["accepted"] == 2
    titles = {m["title"] for m in fcm.messages_recent()}
    assert titles == {"Sita Sings goes live soon", "Sita Sings छिट्टै लाइभ हुँदै हुनुहुन्छ"}
    item = reminded.get(user=english)
    assert item.params["schedule_id"] == soon.pk and item.pushed_at is not None
    assert reminded.get(user=muted).pushed_at is None
