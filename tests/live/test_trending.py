"""The trending live streams: the score from viewers, gift velocity and freshness (computed by the
beat task), the follow-graph boost for the reader, and what is left out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.services import block_create, follow_create
from apps.gifts.services import gift_send
from apps.live import trending
from apps.live.models import Stream
from apps.live.tasks import trending_refresh_task
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory
from tests.live.factories import LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db
URL = "/api/v1/streams/trending/"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def _started(minutes_ago: float) -> dict:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return {"started_at": at, "last_heartbeat_at": timezone.now()}


def test_the_formula():
    # freshness: a stream that just started gets half as much again, a quarter after FRESH_MINUTES
    assert trending.trending_base_score(viewers=9, gift_coins=0, minutes_live=0) == pytest.approx(15.0)
    assert trending.trending_base_score(viewers=9, gift_coins=0, minutes_live=30) == pytest.approx(12.5)
    # ten coins in the window weigh as one viewer
    assert trending.trending_base_score(viewers=0, gift_coins=90, minutes_live=10**6) == pytest.approx(10.0, rel=1e-4)
    assert trending.follow_multiplier(follows_host=True, friends_following=0) == 2.0
    assert trending.follow_multiplier(follows_host=False, friends_following=2) == pytest.approx(1.2)
    assert trending.follow_multiplier(follows_host=False, friends_following=50) == pytest.approx(1.5)


def test_viewers_gift_velocity_and_freshness_order_the_list(auth_client):
    # given four streams started two hours ago: more viewers rank higher ...
    watched = LiveStreamFactory(current_viewers=50, **_started(120))
    quiet = LiveStreamFactory(current_viewers=10, **_started(120))
    # ... coins sent in the last minutes count (800 coins ~ 80 viewers), older ones do not ...
    gifted = LiveStreamFactory(current_viewers=5, **_started(120))
    gifted_long_ago = LiveStreamFactory(current_viewers=5, **_started(120))
    sender, gift = UserFactory(), GiftFactory(coin_price=100)
    fund(sender, 10_000)
    gift_send(sender_id=sender.pk, stream_id=gifted.pk, gift_id=gift.pk, quantity=8)
    gift_send(sender_id=sender.pk, stream_id=gifted_long_ago.pk, gift_id=gift.pk, quantity=8)
    from apps.gifts.models import GiftSend

    GiftSend.objects.filter(stream=gifted_long_ago).update(created_at=timezone.now() - timedelta(hours=1))
    # ... and a stream that just started is raised by its freshness (11 viewers x 1.5 beats 10 x ~1.1)
    fresh = LiveStreamFactory(current_viewers=11, **_started(0))

    # when the beat task runs
    assert trending_refresh_task() == 5

    # then
    ids = _ids(auth_client(UserFactory()).get(URL))
    assert ids == [gifted.pk, watched.pk, fresh.pk, quiet.pk, gifted_long_ago.pk]


def test_the_follow_graph_raises_streams_for_the_reader(auth_client):
    reader, friend = UserFactory(), UserFactory()
    top = LiveStreamFactory(current_viewers=100, **_started(600))
    followed = LiveStreamFactory(current_viewers=60, **_started(600))  # x2 = 122 > 101
    friends_pick = LiveStreamFactory(current_viewers=80, **_started(600))  # x1.1 = 89.1
    follow_create(follower=reader, followee=followed.host)
    follow_create(follower=reader, followee=friend)
    follow_create(follower=friend, followee=friends_pick.host)
    trending_refresh_task()

    assert _ids(auth_client(reader).get(URL)) == [followed.pk, top.pk, friends_pick.pk]
    # someone else sees the plain ranking
    assert _ids(auth_client(UserFactory()).get(URL)) == [top.pk, friends_pick.pk, followed.pk]
    scores = {row["id"]: row["trending_score"] for row in auth_client(reader).get(URL).json()["results"]}
    assert scores[followed.pk] == pytest.approx(2 * (1 + 60) * (1 + 0.5 / 21), rel=1e-3)


def test_ended_hidden_banned_and_blocked_are_left_out(auth_client):
    reader = UserFactory()
    shown = LiveStreamFactory(current_viewers=1)
    LiveStreamFactory(current_viewers=900, status=Stream.Status.ENDED)
    LiveStreamFactory(current_viewers=900, status=Stream.Status.ENDED_BY_MODERATION)
    LiveStreamFactory(current_viewers=900, gifting_paused_at=timezone.now())  # under review for a minor
    banned = LiveStreamFactory(current_viewers=900)
    banned.host.banned_until = timezone.now() + timedelta(days=1)
    banned.host.save()
    blocked = LiveStreamFactory(current_viewers=900)
    block_create(blocker=blocked.host, blocked=reader)
    trending_refresh_task()

    assert _ids(auth_client(reader).get(URL)) == [shown.pk]


def test_a_stream_that_ends_after_the_ranking_drops_out_at_once(auth_client):
    going = LiveStreamFactory(current_viewers=50)
    staying = LiveStreamFactory(current_viewers=5)
    trending_refresh_task()
    Stream.objects.filter(pk=going.pk).update(status=Stream.Status.ENDED)
    assert _ids(auth_client(UserFactory()).get(URL)) == [staying.pk]


def test_the_list_is_read_from_the_cached_ranking(auth_client, django_assert_max_num_queries):
    for viewers in (3, 2, 1):
        LiveStreamFactory(current_viewers=viewers)
    trending_refresh_task()
    client = auth_client(UserFactory())
    client.get(URL)  # warm the token path and the category names
    # auth, blocks, follows (two), the page's streams: no ranking query
    with django_assert_max_num_queries(5):
        assert len(_ids(client.get(URL))) == 3


def test_without_a_ranking_yet_the_first_read_ranks(auth_client):
    stream = LiveStreamFactory(current_viewers=3)
    assert _ids(auth_client(UserFactory()).get(URL)) == [stream.pk]


def test_pages_follow_the_first_page_ranking(auth_client):
    streams = [LiveStreamFactory(current_viewers=n) for n in (50, 40, 30, 20, 10)]
    trending_refresh_task()
    client = auth_client(UserFactory())
    first = client.get(URL, {"limit": 2}).json()
    assert first["count"] == 5 and first["next_cursor"]
    # the counts change and the task reranks meanwhile: the pages keep to the first page's ranking
    Stream.objects.filter(pk=streams[4].pk).update(current_viewers=1000)
    trending_refresh_task()
    second = client.get(URL, {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get(URL, {"limit": 2, "cursor": second["next_cursor"]}).json()
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert seen == [s.pk for s in streams] and third["next_cursor"] is None
    bad = client.get(URL, {"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


def test_the_list_needs_a_signed_in_user(api_client):
    assert api_client.get(URL).status_code == 401
