"""PK battles: a timed gift contest between the two hosts of an active LinkCast."""

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.live.events import stream_group_name
from apps.live.models import LinkCast, PkBattle
from apps.live.services import linkcast_accept, linkcast_invite, pk_end_overdue, stream_end
from apps.live.tasks import pk_battle_end
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory
from tests.live.factories import LiveStreamFactory
from tests.wallet.factories import fund


@pytest.fixture
def room_events(pair, room_listener, transactional_db):
    """Both rooms of the pair, heard on the real channel layer. Transactional, so every event goes
    out when its transaction commits, as in production."""
    main, guest, _ = pair
    return room_listener(stream_group_name(main.pk), stream_group_name(guest.pk))


def of_type(room_events, event_type):
    """(stream id, payload) of each event of that type the rooms heard."""
    return [(int(group.removeprefix("stream_")), payload) for group, _, payload in room_events.heard(event_type)]


@pytest.fixture
def pair(db):
    """Two live streams in an active LinkCast."""
    main, guest = LiveStreamFactory(), LiveStreamFactory()
    linkcast = linkcast_invite(user=main.host, guest_stream_id=guest.pk)
    linkcast_accept(linkcast_id=linkcast.pk, user=guest.host)
    return main, guest, linkcast


@pytest.fixture
def gift(db):
    return GiftFactory(name="Rose", coin_price=10)


@pytest.fixture
def send_gift(auth_client, gift, django_capture_on_commit_callbacks):
    fan = UserFactory()
    fund(fan, 10_000)
    client = auth_client(fan)

    def send(stream, quantity=1):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/gifts/send/",
                {"stream": stream.pk, "gift": gift.pk, "quantity": quantity},
                format="json",
                HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            )
        assert response.status_code == 201, response.json()
        return response

    return send


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """POST the start, running what waits for the commit (the score markers, the eager end task)."""

    def post(client, linkcast, **body):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/api/v1/streams/linkcasts/{linkcast.pk}/pk/", body, format="json")

    return post


def time_up(battle_id: int) -> None:
    """End the battle's window now, as if its time ran out (gifts from here on are late)."""
    PkBattle.objects.filter(pk=battle_id).update(ends_at=timezone.now() - timedelta(milliseconds=1))


def test_only_a_linkcast_host_starts_one_battle_at_a_time(auth_client, start, pair, room_events):
    main, guest, linkcast = pair
    viewer, other_host = UserFactory(), LiveStreamFactory().host

    for outsider in (viewer, other_host):
        refused = start(auth_client(outsider), linkcast, duration_seconds=60)
        assert refused.status_code == 403 and refused.json()["code"] == "not_stream_host"

    bad = start(auth_client(main.host), linkcast, duration_seconds=61)
    assert bad.status_code == 400 and bad.json()["code"] == "pk_duration_invalid"
    unknown = start(auth_client(main.host), linkcast, seconds=60)
    assert unknown.status_code == 400

    started = start(auth_client(guest.host), linkcast, duration_seconds=60)
    assert started.status_code == 201
    body = started.json()
    assert body["status"] == "running" and body["duration_seconds"] == 60
    assert [(s["role"], s["user_id"], s["stream_id"], s["coins"]) for s in body["sides"]] == [
        ("host", main.host_id, main.pk, 0),
        ("guest", guest.host_id, guest.pk, 0),
    ]
    assert {stream_id for stream_id, _ in of_type(room_events, "pk.started")} == {main.pk, guest.pk}

    again = start(auth_client(main.host), linkcast, duration_seconds=60)
    assert again.status_code == 409 and again.json()["code"] == "pk_running"
    assert again.json()["details"]["battle_id"] == body["id"]

    current = auth_client(viewer).get(f"/api/v1/streams/linkcasts/{linkcast.pk}/pk/").json()["battle"]
    assert current["id"] == body["id"] and current["status"] == "running"


def test_battle_needs_an_active_linkcast(auth_client, start, db):
    main, guest = LiveStreamFactory(), LiveStreamFactory()
    invited = linkcast_invite(user=main.host, guest_stream_id=guest.pk)
    refused = start(auth_client(main.host), invited)
    assert refused.status_code == 409 and refused.json()["code"] == "linkcast_refused"
    assert auth_client(main.host).get(f"/api/v1/streams/linkcasts/{invited.pk}/pk/").json() == {"battle": None}
    assert auth_client(main.host).get("/api/v1/streams/linkcasts/999999/pk/").status_code == 404


def test_gifts_in_the_window_decide_the_winner(auth_client, start, pair, room_events, send_gift):
    main, guest, linkcast = pair
    send_gift(guest, quantity=50)  # before the battle: does not count

    battle_id = start(auth_client(main.host), linkcast, duration_seconds=60).json()["id"]
    send_gift(main, quantity=3)
    scores = of_type(room_events, "pk.score")
    assert {stream_id for stream_id, _ in scores} == {main.pk, guest.pk}
    assert [s["coins"] for s in scores[0][1]["sides"]] == [30, 0]

    send_gift(guest, quantity=2)  # inside the 0.5 s gate: no score of its own, but counted
    send_gift(main, quantity=1)
    live = auth_client(guest.host).get(f"/api/v1/streams/linkcasts/{linkcast.pk}/pk/").json()["battle"]
    assert [s["coins"] for s in live["sides"]] == [40, 20]
    time.sleep(0.6)  # past the gate: the next score carries the gifts the gate skipped
    send_gift(guest, quantity=1)
    assert [s["coins"] for s in of_type(room_events, "pk.score")[-1][1]["sides"]] == [40, 30]

    time_up(battle_id)
    send_gift(guest, quantity=99)  # after the end: does not count
    pk_battle_end(battle_id)

    battle = PkBattle.objects.get(pk=battle_id)
    assert (battle.status, battle.host_coins, battle.guest_coins, battle.winner_id) == ("ended", 40, 30, main.host_id)
    ended = of_type(room_events, "pk.ended")
    assert {stream_id for stream_id, _ in ended} == {main.pk, guest.pk}
    assert ended[0][1]["winner_id"] == main.host_id
    assert [s["coins"] for s in ended[0][1]["sides"]] == [40, 30]
    final = auth_client(guest.host).get(f"/api/v1/streams/linkcasts/{linkcast.pk}/pk/").json()["battle"]
    assert final["status"] == "ended" and final["winner_id"] == main.host_id

    # no more scores once it ended
    scores_before = len(of_type(room_events, "pk.score"))
    send_gift(main)
    assert len(of_type(room_events, "pk.score")) == scores_before


def test_equal_totals_are_a_draw_and_the_end_is_idempotent(auth_client, start, pair, room_events, send_gift):
    main, guest, linkcast = pair
    battle_id = start(auth_client(guest.host), linkcast, duration_seconds=60).json()["id"]
    send_gift(main, quantity=2)
    send_gift(guest, quantity=2)

    pk_battle_end(battle_id)  # early (as an eager or early task would be): nothing happens
    assert PkBattle.objects.get(pk=battle_id).status == "running"

    time_up(battle_id)
    pk_battle_end(battle_id)
    pk_battle_end(battle_id)
    assert pk_end_overdue() == 0
    battle = PkBattle.objects.get(pk=battle_id)
    assert (battle.status, battle.host_coins, battle.guest_coins, battle.winner_id) == ("ended", 20, 20, None)
    assert len(of_type(room_events, "pk.ended")) == 2  # one per room, once

    # a new battle may start once the last one ended
    assert start(auth_client(main.host), linkcast, duration_seconds=60).status_code == 201


def test_the_sweep_ends_overdue_battles(auth_client, start, pair, room_events):
    main, guest, linkcast = pair
    battle_id = start(auth_client(main.host), linkcast, duration_seconds=60).json()["id"]
    assert pk_end_overdue() == 0
    time_up(battle_id)
    assert pk_end_overdue() == 1
    assert PkBattle.objects.get(pk=battle_id).status == "ended"
    assert pk_end_overdue() == 0


def test_leaving_the_linkcast_cancels_the_battle(auth_client, start, pair, room_events, send_gift):
    main, guest, linkcast = pair
    battle_id = start(auth_client(main.host), linkcast, duration_seconds=60).json()["id"]
    send_gift(guest, quantity=5)
    assert auth_client(guest.host).post(f"/api/v1/streams/linkcasts/{linkcast.pk}/leave/").status_code == 200

    battle = PkBattle.objects.get(pk=battle_id)
    assert (battle.status, battle.winner_id, battle.guest_coins) == ("cancelled", None, 50)
    ended = of_type(room_events, "pk.ended")
    assert {stream_id for stream_id, _ in ended} == {main.pk, guest.pk}
    assert ended[0][1]["status"] == "cancelled" and ended[0][1]["winner_id"] is None

    time_up(battle_id)
    pk_battle_end(battle_id)  # the end task arriving later changes nothing
    assert PkBattle.objects.get(pk=battle_id).status == "cancelled"
    assert len(of_type(room_events, "pk.ended")) == 2


def test_ending_a_stream_cancels_the_battle(auth_client, start, pair, room_events):
    main, guest, linkcast = pair
    battle_id = start(auth_client(guest.host), linkcast, duration_seconds=60).json()["id"]
    stream_end(stream_id=main.pk)
    linkcast.refresh_from_db()
    assert linkcast.status == LinkCast.Status.ENDED
    assert PkBattle.objects.get(pk=battle_id).status == "cancelled"
    assert len(of_type(room_events, "pk.ended")) == 2


def test_overdue_sweep_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["live-pk-battles-end-overdue"]
    assert entry["task"] == "live.pk_battles_end_overdue" and entry["schedule"] <= 10
