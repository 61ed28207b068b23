"""POST /api/v1/gifts/send/ makes one Redis round trip before its SQL: the token's revocation and
generation, the saved language, the sender's throttle count and the stream's PK marker are gathered
by one script. Revocation, the limit (with the real time left) and PK scores still hold."""

import threading
import uuid
from collections.abc import Iterator

import pytest
import redis.connection
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts import services as accounts_services
from apps.gifts.models import GiftSend
from apps.live.events import stream_group_name
from apps.live.models import PkBattle
from apps.live.services import linkcast_accept, linkcast_invite, pk_start
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db

SEND = "/api/v1/gifts/send/"


class RoundTrips:
    """Every command batch this thread wrote to a Redis connection (one write is one round trip: a
    command, a pipeline or a script), as the raw bytes sent. Other threads (the leaderboards' periodic
    flush) are not the request's."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def __len__(self) -> int:
        return len(self.sent)

    def mention(self, text: str) -> list[int]:
        """The round trips (by index) whose commands name `text`."""
        return [i for i, sent in enumerate(self.sent) if text.encode() in sent]


@pytest.fixture
def round_trips(monkeypatch) -> Iterator[RoundTrips]:
    trips = RoundTrips()
    send = redis.connection.AbstractConnection.send_packed_command
    request_thread = threading.get_ident()

    def counted(self, command, check_health=True):
        if threading.get_ident() == request_thread:
            trips.sent.append(command if isinstance(command, bytes) else b"".join(bytes(p) for p in command))
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    yield trips


@pytest.fixture
def sender(db):
    user = UserFactory()
    fund(user, 10_000)
    return user


@pytest.fixture
def session(sender) -> dict[str, str]:
    return accounts_services.tokens_issue(user=sender)


@pytest.fixture
def client(session) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
    return api


@pytest.fixture
def gift(db):
    return GiftFactory(name="Rose", coin_price=10)


def post(client: APIClient, stream_id: int, gift_id: int, *, quantity: int = 1):
    body = {"stream": stream_id, "gift": gift_id, "quantity": quantity}
    return client.post(SEND, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


def throttle_ttl(user_id: int) -> int:
    redis_client, key = caches["default"].client_and_key(f"throttle_user_{user_id}")
    return int(redis_client.ttl(key))


def test_a_send_to_a_stream_not_in_a_battle_is_one_redis_round_trip(
    client, sender, gift, round_trips, django_capture_on_commit_callbacks
):
    # given a live stream that is in no battle, and a first send that warmed up the connection
    stream = LiveStreamFactory()
    assert post(client, stream.pk, gift.pk).status_code == 201
    round_trips.sent.clear()

    # when the sender sends again, with what waits for the commit run
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, stream.pk, gift.pk)

    # then one round trip answered the token, the limit and the PK question, and no other command
    # went to Redis from the request's thread through redis-py's connections (the room event leaves
    # by the channel layer's asyncio client, the leaderboards in their own periodic batch)
    assert response.status_code == 201, response.json()
    assert len(round_trips) == 1, round_trips.sent
    (trip,) = round_trips.sent
    for fact in ("jwt:revoked:", f"jwt:gen:{sender.pk}", f"throttle_user_{sender.pk}", f"live:pk:stream:{stream.pk}"):
        assert fact.encode() in trip, fact
    assert GiftSend.objects.filter(sender=sender).count() == 2


@pytest.fixture
def battle(db):
    """A running PK battle between two live streams, its markers set as the start commits."""
    main, guest = LiveStreamFactory(), LiveStreamFactory()
    linkcast = linkcast_invite(user=main.host, guest_stream_id=guest.pk)
    linkcast_accept(linkcast_id=linkcast.pk, user=guest.host)
    return main, guest, linkcast


def test_a_send_in_a_battle_learns_it_in_the_same_round_trip_and_scores(
    client, gift, battle, round_trips, room_listener, transactional_db, django_capture_on_commit_callbacks
):
    # given a running battle, both rooms listening
    main, guest, linkcast = battle
    with django_capture_on_commit_callbacks(execute=True):
        started = pk_start(linkcast_id=linkcast.pk, host=main.host, duration_seconds=60)
    rooms = room_listener(stream_group_name(main.pk), stream_group_name(guest.pk))
    round_trips.sent.clear()

    # when a fan sends 3 roses to the main stream
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, main.pk, gift.pk, quantity=3)

    # then the first round trip told the battle apart, and both rooms hear the score
    assert response.status_code == 201, response.json()
    assert round_trips.mention(f"live:pk:stream:{main.pk}") == [0]
    scores = rooms.heard("pk.score")
    assert {group for group, _, _ in scores} == {stream_group_name(main.pk), stream_group_name(guest.pk)}
    assert [side["coins"] for side in scores[0][2]["sides"]] == [30, 0]
    assert scores[0][2]["id"] == started.pk
    assert PkBattle.objects.get(pk=started.pk).status == PkBattle.Status.RUNNING


def test_a_send_whose_stream_the_peek_cannot_read_reads_the_marker_after_the_commit_and_scores(
    client, gift, battle, round_trips, room_listener, transactional_db, django_capture_on_commit_callbacks
):
    # given a running battle
    main, guest, linkcast = battle
    with django_capture_on_commit_callbacks(execute=True):
        pk_start(linkcast_id=linkcast.pk, host=main.host, duration_seconds=60)
    rooms = room_listener(stream_group_name(main.pk), stream_group_name(guest.pk))
    round_trips.sent.clear()

    # when a send names its stream as a string (accepted, but the peek before the parse reads integers only)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            SEND,
            {"stream": str(guest.pk), "gift": gift.pk, "quantity": 2},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )

    # then the marker is read after the commit instead, and the score still goes out
    assert response.status_code == 201, response.json()
    assert round_trips.mention(f"live:pk:stream:{guest.pk}")[0] > 0
    assert [side["coins"] for side in rooms.heard("pk.score")[0][2]["sides"]] == [0, 20]


def test_a_logged_out_token_is_refused_and_not_counted(client, sender, session, gift, round_trips):
    # given a stream, one send counted, then a logout of the session
    stream = LiveStreamFactory()
    assert post(client, stream.pk, gift.pk).status_code == 201
    accounts_services.user_logout(user=sender, refresh=session["refresh"], access=AccessToken(session["access"]))  # type: ignore[arg-type]
    redis_client, key = caches["default"].client_and_key(f"throttle_user_{sender.pk}")
    round_trips.sent.clear()

    # when the logged-out token sends again
    refused = post(client, stream.pk, gift.pk)

    # then it is refused in one round trip, pays nothing, and the owner's limit did not move
    assert_error(refused, 401)
    assert len(round_trips) == 1
    assert GiftSend.objects.filter(sender=sender).count() == 1
    assert int(redis_client.get(key)) == 1


def test_a_token_of_an_older_generation_is_refused(client, sender, gift, django_capture_on_commit_callbacks):
    # given a stream and a password change elsewhere (every earlier token of the sender revoked)
    stream = LiveStreamFactory()
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.user_revoke_all_sessions(user=sender)

    # when the old token sends, then it is refused and nothing is paid
    assert_error(post(client, stream.pk, gift.pk), 401)
    assert not GiftSend.objects.filter(sender=sender).exists()


def test_a_token_of_an_older_generation_is_refused_when_redis_forgot_the_generation(client, sender, gift):
    # given a generation bumped in the row only (Redis lost the mirrored value)
    stream = LiveStreamFactory()
    type(sender).objects.filter(pk=sender.pk).update(token_generation=5)
    caches["default"].delete(f"jwt:gen:{sender.pk}")

    # when the old token sends, then the row decides: refused
    assert_error(post(client, stream.pk, gift.pk), 401)
    assert not GiftSend.objects.filter(sender=sender).exists()


def test_the_limit_refuses_with_the_time_the_window_really_has_left(client, sender, gift, round_trips):
    stream = LiveStreamFactory()
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "2/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        # given two sends in the window, whose counter has 17 s left
        assert post(client, stream.pk, gift.pk).status_code == 201
        assert post(client, stream.pk, gift.pk).status_code == 201
        redis_client, key = caches["default"].client_and_key(f"throttle_user_{sender.pk}")
        redis_client.expire(key, 17)
        round_trips.sent.clear()

        # when a third comes
        refused = post(client, stream.pk, gift.pk)

    # then it is refused in the one round trip, told to come back when the window ends, and pays nothing
    body = assert_error(refused, 429, "throttled")
    assert body["details"]["retry_after"] in (16, 17)
    assert refused["Retry-After"] == str(body["details"]["retry_after"])
    assert len(round_trips) == 1
    assert GiftSend.objects.filter(sender=sender).count() == 2
    assert 0 < throttle_ttl(sender.pk) <= 17


def test_the_window_counts_each_send_once(client, sender, gift):
    # given a stream, when three sends go through
    stream = LiveStreamFactory()
    for _ in range(3):
        assert post(client, stream.pk, gift.pk).status_code == 201

    # then the window counted three (not six: the throttle used the authentication's count)
    redis_client, key = caches["default"].client_and_key(f"throttle_user_{sender.pk}")
    assert int(redis_client.get(key)) == 3
    assert 0 < throttle_ttl(sender.pk) <= 60
