"""Hold for review: grey-zone room messages wait for the host or staff, every decision audited."""

import pytest
from django.core.cache import cache
from django.core.management import call_command

from apps.live import services as live_services
from apps.live.events import stream_group_name, user_group_name
from apps.moderation import services
from apps.moderation.exceptions import HeldMessageDecided, HeldMessageNotFound, HeldMessageNotYours
from apps.moderation.models import HeldMessage, ModerationAction
from apps.moderation.selectors import held_message_may_decide, moderation_settings_get
from tests.accounts.factories import UserFactory, member
from tests.live.factories import LiveStreamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roles():
    call_command("bootstrap_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115


def _band(low: int, high: int) -> None:
    row = moderation_settings_get()
    row.chat_hold_min_score, row.chat_hold_max_score = low, high
    row.save()
    services.moderation_settings_cache_clear()


def _hold(viewer, stream, text="you idiot"):
    return services.chat_message_check(user_id=viewer.pk, stream_id=stream.pk, text=text)


def test_a_grey_zone_message_is_held_for_its_sender_and_shown_to_the_host(
    django_capture_on_commit_callbacks, room_listener
):
    # given the default band (40..60) and a mild insult of the starter list ("idiot", 45)
    stream, viewer = LiveStreamFactory(), UserFactory()
    rooms = room_listener(stream_group_name(stream.pk), user_group_name(stream.host_id))

    # when a viewer sends it
    with django_capture_on_commit_callbacks(execute=True):
        check = _hold(viewer, stream)

    # then it is held, not broadcast: the host alone hears of it, and the audit log has the hold
    assert (check.allowed, check.reason, check.score) == (False, "held", 45) and check.text == "you idiot"
    held = HeldMessage.objects.get()
    assert (held.message_id, held.sender, held.status, held.terms) == (check.pending_id, viewer, "pending", ["idiot"])
    heard = rooms.heard()
    assert [(group, kind) for group, kind, _ in heard] == [(user_group_name(stream.host_id), "chat.held")]
    assert heard[0][2]["id"] == held.message_id and heard[0][2]["text"] == "you idiot"
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.actor, entry.target_user, entry.stream_id) == ("chat_hold", None, viewer, stream.pk)


def test_above_the_band_is_masked_below_it_too_and_an_empty_band_holds_nothing():
    stream, viewer = LiveStreamFactory(), UserFactory()
    # above: the strong word (85) is masked and sent
    assert _hold(viewer, stream, "what the fuck").reason == "masked"
    # an empty band holds nothing: the mild word is masked and sent
    _band(50, 50)
    assert _hold(viewer, stream, "you idiot").text == "you *****"
    assert not HeldMessage.objects.exists()


def test_the_host_and_reel_comments_are_never_held(user):
    stream = LiveStreamFactory()
    assert _hold(stream.host, stream).reason == "masked"
    assert services.chat_message_check(user_id=user.pk, stream_id=0, text="you idiot").reason == "masked"
    assert not HeldMessage.objects.exists()


def test_the_host_approves_the_room_gets_it_unmasked_and_the_sender_is_told(
    django_capture_on_commit_callbacks, room_listener
):
    stream, viewer = LiveStreamFactory(), UserFactory()
    check = _hold(viewer, stream)
    rooms = room_listener(stream_group_name(stream.pk), user_group_name(viewer.pk))

    # when the host approves it
    with django_capture_on_commit_callbacks(execute=True):
        services.held_message_decide(message_id=check.pending_id, by=stream.host, approve=True, stream_id=stream.pk)

    # then the room gets it as written, under its id; the sender is told; the decision is audited
    messages = rooms.heard("chat.message")
    assert [(g, p["id"], p["text"], p["user"]["id"]) for g, _, p in messages] == [
        (stream_group_name(stream.pk), check.pending_id, "you idiot", viewer.pk)
    ]
    assert [(g, p) for g, _, p in rooms.heard("chat.approved")] == [
        (user_group_name(viewer.pk), {"id": check.pending_id, "stream_id": stream.pk})
    ]
    held = HeldMessage.objects.get()
    assert held.status == "approved" and held.decided_by == stream.host and held.decided_at is not None
    entry = ModerationAction.objects.get(action="chat_approve")
    assert (entry.actor, entry.target_user, entry.details["message_id"]) == (stream.host, viewer, check.pending_id)


def test_staff_rejects_only_the_sender_hears_and_it_stays_decided(django_capture_on_commit_callbacks, room_listener):
    stream, viewer, staff = LiveStreamFactory(), UserFactory(), member("Moderators")
    check = _hold(viewer, stream)
    rooms = room_listener(stream_group_name(stream.pk), user_group_name(viewer.pk))

    with django_capture_on_commit_callbacks(execute=True):
        services.held_message_decide(message_id=check.pending_id, by=staff, approve=False)

    assert [(g, k) for g, k, _ in rooms.heard()] == [(user_group_name(viewer.pk), "chat.rejected")]
    assert ModerationAction.objects.get(action="chat_reject").actor == staff
    # deciding again is refused and changes nothing
    with pytest.raises(HeldMessageDecided):
        services.held_message_decide(message_id=check.pending_id, by=stream.host, approve=True)
    assert HeldMessage.objects.get().status == "rejected"
    assert ModerationAction.objects.filter(action__in=["chat_approve", "chat_reject"]).count() == 1


def test_viewers_other_hosts_and_other_rooms_cannot_decide():
    stream, viewer, other_host = LiveStreamFactory(), UserFactory(), LiveStreamFactory().host
    check = _hold(viewer, stream)
    for someone in (viewer, UserFactory(), other_host, member("Finance")):
        with pytest.raises(HeldMessageNotYours):
            services.held_message_decide(message_id=check.pending_id, by=someone, approve=True)
    # asked through another room, the message is not found there
    with pytest.raises(HeldMessageNotFound):
        services.held_message_decide(message_id=check.pending_id, by=other_host, approve=True, stream_id=0)
    with pytest.raises(HeldMessageNotFound):
        services.held_message_decide(message_id="0" * 16, by=stream.host, approve=True)
    assert HeldMessage.objects.get().status == "pending"
    assert not ModerationAction.objects.filter(action__in=["chat_approve", "chat_reject"]).exists()


def test_who_may_decide_is_one_function():
    stream = LiveStreamFactory()
    assert held_message_may_decide(user=stream.host, stream_id=stream.pk)
    assert held_message_may_decide(user=member("Moderators"), stream_id=stream.pk)
    assert held_message_may_decide(user=member("superuser"), stream_id=stream.pk)
    assert not held_message_may_decide(user=UserFactory(), stream_id=stream.pk)
    assert not held_message_may_decide(user=None, stream_id=stream.pk)


def test_staff_approve_in_the_admin(client, django_capture_on_commit_callbacks):
    # given two held messages and a moderator signed in to the admin
    stream = LiveStreamFactory()
    first, second = _hold(UserFactory(), stream), _hold(UserFactory(), stream, "crap stream")
    staff = member("Moderators")
    client.force_login(staff)
    ids = list(HeldMessage.objects.order_by("pk").values_list("pk", flat=True))

    # when they approve both from the list
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/moderation/heldmessage/", {"action": "approve_selected", "_selected_action": ids}, follow=True
        )

    # then both are approved by them and audited
    assert response.status_code == 200
    assert set(HeldMessage.objects.values_list("status", "decided_by")) == {("approved", staff.pk)}
    assert ModerationAction.objects.filter(action="chat_approve", actor=staff).count() == 2
    assert {first.pending_id, second.pending_id} == set(HeldMessage.objects.values_list("message_id", flat=True))


def test_the_word_list_cache_carries_severity_and_matching():
    cache.clear()
    terms = {t.text: t for t in services_terms()}
    assert terms["idiot"].severity == 45 and not terms["idiot"].inside_words
    assert terms["fuck"].inside_words and terms["muji"].language == "ne-latn"
    assert services_terms() == tuple(terms.values())  # the cached copy reads the same


def services_terms():
    from apps.moderation.selectors import banned_terms

    return banned_terms()


def test_the_hosts_room_moderators_hear_of_a_held_message_and_may_decide(
    django_capture_on_commit_callbacks, room_listener
):
    # given a room whose host appointed a room moderator, and another host's moderator
    stream, viewer, moderator, elsewhere = LiveStreamFactory(), UserFactory(), UserFactory(), UserFactory()
    live_services.room_moderator_add(host=stream.host, user_id=moderator.pk)
    live_services.room_moderator_add(host=LiveStreamFactory().host, user_id=elsewhere.pk)
    rooms = room_listener(user_group_name(stream.host_id), user_group_name(moderator.pk), user_group_name(elsewhere.pk))

    # when a viewer's grey-zone message is held
    with django_capture_on_commit_callbacks(execute=True):
        check = _hold(viewer, stream)

    # then the host and the host's moderator hear of it, the other host's moderator does not
    assert sorted(group for group, kind, _ in rooms.heard() if kind == "chat.held") == sorted(
        [user_group_name(stream.host_id), user_group_name(moderator.pk)]
    )
    # and the other host's moderator may not decide; the room's moderator may, and it is audited
    assert not held_message_may_decide(user=elsewhere, stream_id=stream.pk)
    with pytest.raises(HeldMessageNotYours):
        services.held_message_decide(message_id=check.pending_id, by=elsewhere, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.held_message_decide(message_id=check.pending_id, by=moderator, approve=False)
    assert HeldMessage.objects.get().status == "rejected"
    entry = ModerationAction.objects.get(action="chat_reject")
    assert (entry.actor, entry.target_user) == (moderator, viewer)
