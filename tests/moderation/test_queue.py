"""Reports, the moderator queue, who may act, what each action does, the audit log, enforcements and appeals."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import IntegrityError, transaction

from apps.accounts.models import User
from apps.live.events import stream_group_name, user_group_name
from apps.live.models import Stream
from apps.moderation import services
from apps.moderation.exceptions import CaseClosed, NotModerator
from apps.moderation.models import Appeal, Case, Enforcement, ModerationAction, Report
from tests.accounts.factories import UserFactory
from tests.media import assert_private_link
from tests.moderation.factories import EnforcementFactory, LiveStreamFactory

pytestmark = pytest.mark.django_db
REPORTS = "/api/v1/moderation/reports/"
ENFORCEMENTS = "/api/v1/moderation/enforcements/"


@pytest.fixture
def moderator():
    call_command("bootstrap_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    mod = UserFactory(is_staff=True)
    mod.groups.add(Group.objects.get(name="Moderators"))
    return User.objects.get(pk=mod.pk)  # fresh: no cached permissions


@pytest.fixture
def ops_staff():
    call_command("bootstrap_roles", stdout=open("/dev/null", "w"))  # noqa: SIM115
    staff = UserFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name="Ops"))
    return User.objects.get(pk=staff.pk)


def _report_stream(client, stream, reason="nudity"):
    return client.post(REPORTS, {"target_type": "stream", "target_id": stream.pk, "reason": reason}, format="json")


# --- Reports ------------------------------------------------------------------------------------


def test_reports_on_one_stream_merge_into_one_case(auth_client):
    # given a live stream and three viewers
    stream = LiveStreamFactory()
    viewers = [UserFactory() for _ in range(3)]
    # when they all report it, one of them twice
    responses = [_report_stream(auth_client(v), stream) for v in viewers]
    repeat = _report_stream(auth_client(viewers[0]), stream)
    # then there is one open case counting three reporters, pointing at the host
    assert [r.status_code for r in responses] == [201, 201, 201] and repeat.status_code == 200
    case = Case.objects.get()
    assert case.kind == Case.Kind.REPORT and case.reporter_count == 3 and case.subject_id == stream.host_id
    assert case.stream_id == stream.pk and Report.objects.count() == 3


def test_a_new_report_after_a_decision_opens_a_new_case(auth_client, moderator):
    stream = LiveStreamFactory()
    _report_stream(auth_client(UserFactory()), stream)
    services.case_act(actor=moderator, case_id=Case.objects.get().pk, action="dismiss", reason="fine")
    _report_stream(auth_client(UserFactory()), stream)
    assert Case.objects.filter(status=Case.Status.OPEN).count() == 1 and Case.objects.count() == 2


def test_report_a_user_a_reel_and_a_chat_message(auth_client, user):
    from tests.reels.factories import ReelFactory

    target = UserFactory()
    client = auth_client(user)
    stream = LiveStreamFactory()
    reel = ReelFactory(author=target)
    by_user = client.post(
        REPORTS, {"target_type": "user", "target_id": target.pk, "reason": "harassment"}, format="json"
    )
    by_reel = client.post(REPORTS, {"target_type": "reel", "target_id": reel.pk, "reason": "spam"}, format="json")
    chat = client.post(
        REPORTS,
        {
            "target_type": "chat_message",
            "target_id": 17,
            "reason": "harassment",
            "stream_id": stream.pk,
            "author_id": target.pk,
            "message_text": "you are ugly",
        },
        format="json",
    )
    assert (by_user.status_code, by_reel.status_code, chat.status_code) == (201, 201, 201)
    chat_case = Case.objects.get(target_type="chat_message")
    assert chat_case.target_id == f"{stream.pk}:{target.pk}" and chat_case.subject_id == target.pk
    assert chat_case.reports.get().message_text == "you are ugly"
    assert set(Case.objects.values_list("subject_id", flat=True)) == {target.pk}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"target_type": "stream", "target_id": 999999, "reason": "spam"}, 404, "report_target_not_found"),
        ({"target_type": "planet", "target_id": 1, "reason": "spam"}, 400, "validation_error"),
        ({"target_type": "user", "target_id": 1, "reason": "boring"}, 400, "validation_error"),
        ({"target_type": "chat_message", "target_id": 1, "reason": "spam"}, 400, "validation_error"),
    ],
)
def test_bad_reports_write_nothing(auth_client, user, body, status, code):
    response = auth_client(user).post(REPORTS, body, format="json")
    assert response.status_code == status
    if code != "validation_error":
        assert response.json()["code"] == code
    assert not Case.objects.exists() and not Report.objects.exists()


def test_cannot_report_oneself(auth_client, user):
    response = auth_client(user).post(
        REPORTS, {"target_type": "user", "target_id": user.pk, "reason": "spam"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "cannot_report_self"
    assert not Case.objects.exists()


# --- Who may act --------------------------------------------------------------------------------


def test_viewers_hosts_and_other_staff_can_never_act(auth_client, ops_staff):
    stream = LiveStreamFactory()
    _report_stream(auth_client(UserFactory()), stream)
    case = Case.objects.get()
    for someone in (UserFactory(), stream.host, ops_staff):
        with pytest.raises(NotModerator):
            services.case_act(actor=someone, case_id=case.pk, action="ban", reason="because")
    case.refresh_from_db()
    stream.host.refresh_from_db()
    assert case.status == Case.Status.OPEN and not stream.host.is_banned and not ModerationAction.objects.exists()


def test_admin_act_view_refuses_non_moderator_staff(client, ops_staff, auth_client):
    stream = LiveStreamFactory()
    _report_stream(auth_client(UserFactory()), stream)
    case = Case.objects.get()
    client.force_login(ops_staff)
    response = client.post(f"/admin/moderation/case/{case.pk}/act/", {"action": "ban", "reason": "x"})
    assert response.status_code == 403
    stream.host.refresh_from_db()
    assert not stream.host.is_banned


def test_ordinary_users_cannot_open_the_queue(client, user):
    client.force_login(user)
    assert client.get("/admin/moderation/case/").status_code == 302  # to the admin login


# --- What each action does ----------------------------------------------------------------------


def test_ban_acts_at_once(auth_client, moderator, django_capture_on_commit_callbacks, room_listener):
    # given a live host reported by a viewer, signed in on the API
    stream = LiveStreamFactory()
    host_client = auth_client(stream.host)
    _report_stream(auth_client(UserFactory()), stream)
    case = Case.objects.get()

    rooms = room_listener(user_group_name(stream.host_id), stream_group_name(stream.pk))

    # when a moderator bans them
    with django_capture_on_commit_callbacks(execute=True):
        services.case_act(actor=moderator, case_id=case.pk, action="ban", reason="nudity on stream")

    # then their sockets are told to close, the stream ends, the token is refused, all in the audit log
    closed = [message for group, _, message in rooms.heard("session.close") if group == user_group_name(stream.host_id)]
    assert closed == [{"type": "session.close", "reason": "banned", "stream_id": None}]
    assert [group for group, _, _ in rooms.heard("stream.ended")] == [stream_group_name(stream.pk)]
    assert Stream.objects.get(pk=stream.pk).status == Stream.Status.ENDED_BY_MODERATION
    assert host_client.get(ENFORCEMENTS).status_code in (401, 403)
    entry = ModerationAction.objects.get(actor=moderator)
    assert (entry.action, entry.target_user_id, entry.reason) == ("ban", stream.host_id, "nudity on stream")
    assert Enforcement.objects.get(user=stream.host).kind == Enforcement.Kind.BAN
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED and case.decided_by == moderator and case.decision == "ban"


def test_warn_tells_the_user_and_the_room(auth_client, moderator, django_capture_on_commit_callbacks, room_listener):
    stream = LiveStreamFactory()
    _report_stream(auth_client(UserFactory()), stream)
    case = Case.objects.get()
    room = room_listener(stream_group_name(stream.pk))

    with django_capture_on_commit_callbacks(execute=True):
        services.case_act(actor=moderator, case_id=case.pk, action="warn", reason="Keep it clean")

    assert room.heard() == [
        (
            stream_group_name(stream.pk),
            "moderation.warning",
            {"stream_id": stream.pk, "user_id": stream.host_id, "message": "Keep it clean"},
        )
    ]
    warning = auth_client(stream.host).get(ENFORCEMENTS).json()["results"][0]
    assert warning["kind"] == "warning" and "Keep it clean" in warning["explanation"]


def test_suspend_for_n_days_and_end_stream(auth_client, moderator):
    stream = LiveStreamFactory()
    _report_stream(auth_client(UserFactory()), stream)
    services.case_act(actor=moderator, case_id=Case.objects.get().pk, action="suspend", reason="spam", days=2)
    stream.host.refresh_from_db()
    assert stream.host.is_banned and Stream.objects.get(pk=stream.pk).status == Stream.Status.ENDED_BY_MODERATION
    assert Enforcement.objects.get(user=stream.host).ends_at == stream.host.banned_until

    other = LiveStreamFactory()
    _report_stream(auth_client(UserFactory()), other)
    services.case_act(
        actor=moderator, case_id=Case.objects.get(status="open").pk, action="end_stream", reason="off-topic"
    )
    other.host.refresh_from_db()
    assert Stream.objects.get(pk=other.pk).status == Stream.Status.ENDED_BY_MODERATION and not other.host.is_banned


def test_decided_case_cannot_be_decided_again(auth_client, moderator):
    stream = LiveStreamFactory()
    _report_stream(auth_client(UserFactory()), stream)
    case = Case.objects.get()
    services.case_act(actor=moderator, case_id=case.pk, action="dismiss", reason="no problem")
    with pytest.raises(CaseClosed):
        services.case_act(actor=moderator, case_id=case.pk, action="ban", reason="changed my mind")
    assert ModerationAction.objects.count() == 1


def test_audit_log_is_append_only(moderator):
    entry = ModerationAction.objects.create(actor=moderator, action="dismiss", reason="x")
    with pytest.raises(IntegrityError.__mro__[1]), transaction.atomic():  # the trigger raises a database error
        ModerationAction.objects.filter(pk=entry.pk).update(reason="edited")
    with pytest.raises(IntegrityError.__mro__[1]), transaction.atomic():
        ModerationAction.objects.filter(pk=entry.pk).delete()
    assert ModerationAction.objects.get(pk=entry.pk).reason == "x"


# --- Enforcements and appeals -------------------------------------------------------------------


def test_enforcements_list_only_ones_own(auth_client, user):
    EnforcementFactory(user=user)
    EnforcementFactory()
    body = auth_client(user).get(ENFORCEMENTS).json()
    assert len(body["results"]) == 1
    item = body["results"][0]
    assert item["rule"] == "report_user" and item["appealable"] is True and item["appeal"] is None


def test_appeal_once_then_overturned_lifts_the_suspension(auth_client, moderator):
    # given a host suspended by a moderator
    stream = LiveStreamFactory()
    _report_stream(auth_client(UserFactory()), stream)
    services.case_act(actor=moderator, case_id=Case.objects.get().pk, action="suspend", reason="spam", days=7)
    enforcement = Enforcement.objects.get(user=stream.host)
    # when they appeal (a banned user appeals through support: here the service is called for them)
    appeal = services.appeal_create(user=stream.host, enforcement_id=enforcement.pk, text="It was a mistake")
    # then the appeal is in the queue; a second appeal is refused
    case = Case.objects.get(kind=Case.Kind.APPEAL)
    assert case.enforcement_id == enforcement.pk and case.status == Case.Status.OPEN
    with pytest.raises(Exception) as second:
        services.appeal_create(user=stream.host, enforcement_id=enforcement.pk, text="again")
    assert getattr(second.value, "code", None) == "already_appealed"
    # when a moderator overturns it
    services.case_act(actor=moderator, case_id=case.pk, action="appeal_overturn", reason="reporter was wrong")
    # then the suspension is lifted and the outcome recorded
    stream.host.refresh_from_db()
    appeal.refresh_from_db()
    enforcement.refresh_from_db()
    assert not stream.host.is_banned and enforcement.revoked_at is not None
    assert appeal.status == Appeal.Status.OVERTURNED and appeal.decided_by == moderator
    shown = auth_client(stream.host).get(ENFORCEMENTS).json()["results"][0]
    assert shown["appeal"]["status"] == "overturned" and shown["appealable"] is False


def test_appeal_api_once_and_only_ones_own(auth_client, user, moderator):
    mine, theirs = EnforcementFactory(user=user), EnforcementFactory()
    client = auth_client(user)
    first = client.post(f"{ENFORCEMENTS}{mine.pk}/appeal/", {"text": "Please look again"}, format="json")
    second = client.post(f"{ENFORCEMENTS}{mine.pk}/appeal/", {"text": "Please look again"}, format="json")
    other = client.post(f"{ENFORCEMENTS}{theirs.pk}/appeal/", {"text": "Not mine"}, format="json")
    assert first.status_code == 201 and first.json()["appeal"]["status"] == "pending"
    assert second.status_code == 409 and second.json()["code"] == "already_appealed"
    assert other.status_code == 404
    services.case_act(actor=moderator, case_id=Case.objects.get().pk, action="appeal_uphold", reason="rule applies")
    mine.refresh_from_db()
    assert mine.appeal.status == Appeal.Status.UPHELD and mine.revoked_at is None


def test_enforcement_explains_a_model_flag(auth_client, user):
    from apps.moderation.models import Frame

    stream = LiveStreamFactory(host=user)
    frame = Frame.objects.create(stream=stream, host=user, image="moderation/frames/x.jpg", score=0.93)
    EnforcementFactory(
        user=user,
        kind=Enforcement.Kind.STRIKE,
        rule="nsfw_frame",
        frame=frame,
        stream=stream,
        model_score=0.93,
        model_version="opennsfw2-0.19.0+w24e411da43d9+keras3.15.1-jax",
    )
    item = auth_client(user).get(ENFORCEMENTS).json()["results"][0]
    assert item["rule"] == "nsfw_frame" and item["model_score"] == 0.93
    assert item["model_version"].startswith("opennsfw2")
    assert_private_link(item["frame_url"], name="moderation/frames/x.jpg")
    assert item["stream_id"] == stream.pk
