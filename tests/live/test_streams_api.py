import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import block_create, follow_create, user_ban
from apps.live.models import Stream, StreamKick, StreamViewer
from apps.live.services import stream_end, streams_end_silent
from apps.live.tasks import streams_end_silent_task
from tests.accounts.factories import UserFactory
from tests.live.agora_verify import JOIN, PUBLISH_AUDIO, verify_006
from tests.live.factories import CategoryFactory, LiveStreamFactory

APP = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
agora_on = override_settings(AGORA_APP_ID=APP, AGORA_APP_CERTIFICATE=CERT)


# --- Going live ----------------------------------------------------------------------------------


@pytest.mark.django_db
@agora_on
def test_go_live_returns_the_stream_publisher_tokens_and_the_room(auth_client, user):
    CategoryFactory(slug="talk", name_en="Just chatting")
    response = auth_client(user).post("/api/v1/streams/", {"title": "Morning chiya", "category": "Talk"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    stream = Stream.objects.get(pk=body["stream"]["id"])
    assert stream.status == Stream.Status.LIVE and stream.host == user and stream.category_id == "talk"
    assert body["ws_url"] == f"ws://testserver/ws/streams/{stream.pk}/"
    rtc = body["agora"]["rtc"]
    assert (rtc["channel"], rtc["uid"], rtc["role"]) == (stream.channel_name, user.pk, "publisher")
    decoded = verify_006(rtc["token"], app_id=APP, certificate=CERT, channel=stream.channel_name, uid=user.pk)
    assert decoded.privileges[PUBLISH_AUDIO] == rtc["expires_at"]
    assert body["heartbeat_seconds"] > 0


@pytest.mark.django_db
@override_settings(AGORA_APP_ID="", AGORA_APP_CERTIFICATE="")
def test_without_agora_going_live_works_and_the_token_endpoint_says_503(auth_client, user):
    client = auth_client(user)
    body = client.post("/api/v1/streams/", {"title": "No video today"}, format="json").json()
    assert body["agora"] is None

    response = client.post(f"/api/v1/streams/{body['stream']['id']}/token/")
    assert response.status_code == 503
    assert response.json()["code"] == "agora_not_configured"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "profile",
    [
        {"date_of_birth": timezone.localdate() - timedelta(days=365 * 16)},
        {"date_of_birth": None},
        {"age_verification": User.AgeVerification.PENDING_REVIEW},
    ],
)
def test_minors_and_age_held_accounts_cannot_go_live(auth_client, profile):
    user = UserFactory(**profile)
    response = auth_client(user).post("/api/v1/streams/", {"title": "hi"}, format="json")
    assert response.status_code == 403
    held = profile.get("age_verification") == User.AgeVerification.PENDING_REVIEW
    assert response.json()["code"] == ("age_check_failed" if held else "age_restricted")
    assert not Stream.objects.exists()


@pytest.mark.django_db
def test_a_banned_user_cannot_go_live(auth_client, user):
    client = auth_client(user)
    user_ban(user=user, days=1, reason="spam")
    response = client.post("/api/v1/streams/", {"title": "hi"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "account_banned"
    assert not Stream.objects.exists()


@pytest.mark.django_db
def test_bad_input_is_refused_and_writes_nothing(auth_client, user):
    client = auth_client(user)
    for body in (
        {},
        {"title": ""},
        {"title": "x" * 121},
        {"title": "ok", "category": "<script>"},
        {"title": "ok", "x": 1},
    ):
        response = client.post("/api/v1/streams/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["code"] == "invalid"
    assert not Stream.objects.exists()


@pytest.mark.django_db
def test_a_host_has_at_most_one_live_stream(auth_client, user):
    client = auth_client(user)
    first = client.post("/api/v1/streams/", {"title": "one"}, format="json").json()["stream"]["id"]
    response = client.post("/api/v1/streams/", {"title": "two"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "already_live",
        "message": "You already have a live stream; end it first.",
        "details": {"stream_id": first},
    }


@pytest.mark.django_db(transaction=True)
def test_racing_go_live_requests_make_one_stream(user):
    from apps.live.exceptions import AlreadyLive
    from apps.live.services import stream_go_live

    results, barrier = [], threading.Barrier(4)

    def go():
        try:
            barrier.wait()
            results.append(stream_go_live(host=User.objects.get(pk=user.pk), title="race").pk)
        except AlreadyLive:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)).count("refused") == 3
    assert Stream.objects.filter(host=user, status=Stream.Status.LIVE).count() == 1


# --- Listing, detail ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_active_lists_live_streams_popular_first_by_category_and_following(auth_client, user):
    quiet = LiveStreamFactory(category="music", current_viewers=3)
    busy = LiveStreamFactory(category="talk", current_viewers=300)
    middle = LiveStreamFactory(category="music", current_viewers=30)
    LiveStreamFactory(status=Stream.Status.ENDED, current_viewers=1000)
    blocked = LiveStreamFactory(current_viewers=999)
    block_create(blocker=blocked.host, blocked=user)
    follow_create(follower=user, followee=quiet.host)
    client = auth_client(user)

    ids = [s["id"] for s in client.get("/api/v1/streams/active/").json()["results"]]
    assert ids == [busy.pk, middle.pk, quiet.pk]
    music = client.get("/api/v1/streams/active/", {"category": "Music"}).json()
    assert [s["id"] for s in music["results"]] == [middle.pk, quiet.pk]
    following = client.get("/api/v1/streams/active/", {"following": "1"}).json()
    assert [s["id"] for s in following["results"]] == [quiet.pk]
    page = client.get("/api/v1/streams/active/", {"limit": 2}).json()
    assert (page["count"], len(page["results"])) == (3, 2)
    rest = client.get("/api/v1/streams/active/", {"limit": 2, "cursor": page["next_cursor"]}).json()
    assert ([s["id"] for s in rest["results"]], rest["next_cursor"]) == ([quiet.pk], None)
    assert client.get("/api/v1/streams/active/", {"limit": 0}).status_code == 400


@pytest.mark.django_db
def test_a_burst_of_active_list_requests_costs_the_database_little(auth_client, user, django_assert_num_queries):
    LiveStreamFactory.create_batch(5)
    client = auth_client(user)
    client.get("/api/v1/streams/active/")  # fills the cache
    # then each further request reads the user (auth) and their blocks, never the streams
    with django_assert_num_queries(2 * 10):
        for _ in range(10):
            assert client.get("/api/v1/streams/active/").status_code == 200


@pytest.mark.django_db
def test_going_live_and_ending_show_up_in_the_list_at_once(
    auth_client, user, other_user, django_capture_on_commit_callbacks
):
    client = auth_client(other_user)
    assert client.get("/api/v1/streams/active/").json()["count"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        stream_id = auth_client(user).post("/api/v1/streams/", {"title": "new"}, format="json").json()["stream"]["id"]
    assert client.get("/api/v1/streams/active/").json()["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        stream_end(stream_id=stream_id)
    assert client.get("/api/v1/streams/active/").json()["count"] == 0


@pytest.mark.django_db
def test_detail_and_anonymous_access(api_client, auth_client, user):
    stream = LiveStreamFactory()
    assert api_client.get(f"/api/v1/streams/{stream.pk}/").status_code == 401
    body = auth_client(user).get(f"/api/v1/streams/{stream.pk}/").json()
    assert body["id"] == stream.pk and body["host"]["id"] == stream.host_id and body["linkcast"] is None
    assert "channel_name" not in body
    assert auth_client(user).get("/api/v1/streams/987654/").json()["code"] == "not_found"


# --- Joining, tokens ------------------------------------------------------------------------------


@pytest.mark.django_db
@agora_on
def test_join_returns_a_subscriber_token_and_leave_records_it(auth_client, user):
    stream = LiveStreamFactory()
    client = auth_client(user)
    body = client.post(f"/api/v1/streams/{stream.pk}/join/").json()
    rtc = body["agora"]["rtc"]
    assert (rtc["role"], rtc["uid"], rtc["channel"]) == ("subscriber", user.pk, stream.channel_name)
    decoded = verify_006(rtc["token"], app_id=APP, certificate=CERT, channel=stream.channel_name, uid=user.pk)
    assert decoded.privileges == {JOIN: rtc["expires_at"]}
    assert StreamViewer.objects.get(stream=stream, user=user).left_at is None

    assert client.post(f"/api/v1/streams/{stream.pk}/leave/").status_code == 204
    assert StreamViewer.objects.get(stream=stream, user=user).left_at is not None


@pytest.mark.django_db
@agora_on
def test_refresh_rechecks_the_role_and_the_stream(auth_client, user):
    stream = LiveStreamFactory()
    host_token = auth_client(stream.host).post(f"/api/v1/streams/{stream.pk}/token/").json()
    viewer_token = auth_client(user).post(f"/api/v1/streams/{stream.pk}/token/").json()
    assert host_token["rtc"]["role"] == "publisher" and viewer_token["rtc"]["role"] == "subscriber"
    assert viewer_token["rtm"]["user"] == str(user.pk)
    stream_end(stream_id=stream.pk)
    response = auth_client(user).post(f"/api/v1/streams/{stream.pk}/token/")
    assert response.status_code == 409 and response.json()["code"] == "stream_not_live"


@pytest.mark.django_db
@agora_on
def test_blocked_kicked_and_banned_users_get_no_token(auth_client):
    stream = LiveStreamFactory()
    blocked, kicked, banned = UserFactory(), UserFactory(), UserFactory()
    block_create(blocker=stream.host, blocked=blocked)
    StreamKick.objects.create(stream=stream, user=kicked)
    banned_client = auth_client(banned)
    user_ban(user=banned, days=1, reason="x")

    for client, code in (
        (auth_client(blocked), "user_blocked"),
        (auth_client(kicked), "kicked"),
        (banned_client, "account_banned"),
    ):
        for path in ("token", "join"):
            response = client.post(f"/api/v1/streams/{stream.pk}/{path}/")
            assert response.status_code == 403, (code, path)
            assert response.json()["code"] == code
    assert not StreamViewer.objects.exists()


# --- Ending, heartbeats ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_the_host_ends_the_stream_and_ending_twice_is_harmless(auth_client, user):
    stream = LiveStreamFactory()
    response = auth_client(user).post(f"/api/v1/streams/{stream.pk}/end/")
    assert response.status_code == 403 and response.json()["code"] == "not_stream_host"

    host = auth_client(stream.host)
    first = host.post(f"/api/v1/streams/{stream.pk}/end/")
    assert first.status_code == 200 and first.json()["status"] == "ended"
    assert first.json()["end_reason"] == "host_ended"
    assert host.post(f"/api/v1/streams/{stream.pk}/end/").json()["ended_at"] == first.json()["ended_at"]


@pytest.mark.django_db
def test_moderation_ends_a_stream_with_its_own_status():
    stream = LiveStreamFactory()
    ended = stream_end(stream_id=stream.pk, reason="nsfw", by_moderation=True)
    assert ended.status == Stream.Status.ENDED_BY_MODERATION and ended.end_reason == "nsfw"
    again = stream_end(stream_id=stream.pk, reason="other")
    assert again.status == Stream.Status.ENDED_BY_MODERATION and again.end_reason == "nsfw"


@pytest.mark.django_db
@override_settings(LIVE_HEARTBEAT_TIMEOUT_SECONDS=60)
def test_streams_without_heartbeat_are_ended_by_the_beat_task(auth_client):
    silent = LiveStreamFactory(last_heartbeat_at=timezone.now() - timedelta(seconds=61))
    alive = LiveStreamFactory(last_heartbeat_at=timezone.now() - timedelta(seconds=120))
    # the host of `alive` sends a heartbeat just in time
    response = auth_client(alive.host).post(f"/api/v1/streams/{alive.pk}/heartbeat/")
    assert response.status_code == 200
    assert auth_client(silent.host).post(f"/api/v1/streams/{alive.pk}/heartbeat/").status_code == 403

    assert streams_end_silent_task.delay().get() == 1
    silent.refresh_from_db()
    alive.refresh_from_db()
    assert (silent.status, silent.end_reason) == (Stream.Status.ENDED, "host_silent")
    assert alive.status == Stream.Status.LIVE
    assert streams_end_silent() == 0  # safe to rerun
    response = auth_client(silent.host).post(f"/api/v1/streams/{silent.pk}/heartbeat/")
    assert response.status_code == 409 and response.json()["code"] == "stream_not_live"


def test_the_sweep_is_on_the_beat_schedule(settings):
    assert settings.CELERY_BEAT_SCHEDULE["live-streams-end-silent"]["task"] == "live.streams_end_silent"
