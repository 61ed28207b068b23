"""The feed: followed authors' recent reels first, then by hot score; never a blocked user's reels."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import Block, Follow
from apps.reels.models import Reel
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.reels.factories import ReelFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/reels/feed/"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_followed_authors_come_first_then_everyone_by_hot_score(auth_client, user):
    # given two followed authors and two strangers, with strangers far more engaging
    followed_a, followed_b, stranger_a, stranger_b = UserFactory.create_batch(4)
    Follow.objects.create(follower=user, followee=followed_a)
    Follow.objects.create(follower=user, followee=followed_b)
    now = timezone.now()
    quiet_friend = ReelFactory(author=followed_a, published_at=now - timedelta(hours=5))
    busy_friend = ReelFactory(author=followed_b, published_at=now - timedelta(hours=5), likes_count=3)
    viral = ReelFactory(author=stranger_a, published_at=now - timedelta(hours=5), likes_count=500, views_count=9000)
    fresh = ReelFactory(author=stranger_b, published_at=now, likes_count=2)
    stale = ReelFactory(author=stranger_b, published_at=now - timedelta(days=6), likes_count=40)
    old_friend = ReelFactory(author=followed_a, published_at=now - timedelta(days=10), likes_count=1)

    # when the user opens the feed
    ids = _ids(auth_client(user).get(URL))

    # then followed authors' recent reels lead (engagement orders them), then the rest by hot score
    assert ids[:2] == [busy_friend.pk, quiet_friend.pk]
    assert ids[2:] == [viral.pk, fresh.pk, stale.pk, old_friend.pk]


def test_freshness_beats_equal_engagement_and_doubling_engagement_buys_one_half_life(auth_client, user, settings):
    # given a 12 h half-life: a reel 12 h older needs twice the engagement (plus the +1) to tie
    settings.REELS_HOT_HALF_LIFE_HOURS = 12.0
    now = timezone.now()
    older_doubled = ReelFactory(published_at=now - timedelta(hours=12), views_count=41)
    newer = ReelFactory(published_at=now, views_count=20)
    older_same = ReelFactory(published_at=now - timedelta(hours=12), views_count=20)

    # then the newer reel beats an older one with the same engagement, and roughly ties a doubled one
    assert newer.hot_score > older_same.hot_score
    assert older_doubled.hot_score == pytest.approx(newer.hot_score, abs=1e-6)
    assert _ids(auth_client(user).get(URL))[-1] == older_same.pk


def test_blocked_users_reels_never_appear_either_way(auth_client, user):
    # given one author the user blocked, one who blocked the user, and a followed author later blocked
    blocked_by_me, blocking_me, friend = UserFactory.create_batch(3)
    Block.objects.create(blocker=user, blocked=blocked_by_me)
    Block.objects.create(blocker=blocking_me, blocked=user)
    Follow.objects.create(follower=user, followee=friend)
    Block.objects.create(blocker=user, blocked=friend)
    hidden = [ReelFactory(author=a, likes_count=1000) for a in (blocked_by_me, blocking_me, friend)]
    visible = ReelFactory()

    # when the user reads the feed, then only the unrelated author's reel is there
    ids = _ids(auth_client(user).get(URL))
    assert ids == [visible.pk]
    # and the blocked reels are not reachable directly either
    for reel in hidden:
        assert_error(auth_client(user).get(f"/api/v1/reels/{reel.pk}/"), 404, "reel_not_found")


def test_own_unpublished_and_inactive_authors_reels_are_left_out(auth_client, user):
    ReelFactory(author=user)
    ReelFactory(status=Reel.Status.PROCESSING, published_at=None)
    ReelFactory(status=Reel.Status.REJECTED, published_at=None)
    ReelFactory(status=Reel.Status.DELETED)
    ReelFactory(author=UserFactory(is_active=False))
    shown = ReelFactory()
    assert _ids(auth_client(user).get(URL)) == [shown.pk]


def test_pages_cover_every_reel_once_across_the_section_boundary(auth_client, user):
    # given 5 followed reels and 8 others, read 3 at a time
    friend = UserFactory()
    Follow.objects.create(follower=user, followee=friend)
    now = timezone.now()
    friends = [ReelFactory(author=friend, published_at=now - timedelta(minutes=i)) for i in range(5)]
    others = [ReelFactory(published_at=now - timedelta(minutes=i), likes_count=i % 3) for i in range(8)]
    client = auth_client(user)

    # when the client follows the next links to the end
    seen, url, pages = [], f"{URL}?page_size=3", 0
    while url:
        response = client.get(url)
        seen += _ids(response)
        url = response.json()["next"]
        pages += 1

    # then every reel came exactly once, followed ones first
    assert len(seen) == len(set(seen)) == 13
    assert set(seen[:5]) == {r.pk for r in friends}
    assert set(seen[5:]) == {r.pk for r in others}
    assert pages == 5


def test_a_forged_cursor_is_refused(auth_client, user):
    assert_error(auth_client(user).get(f"{URL}?cursor=not-a-cursor"), 400, "invalid_cursor")
    assert_error(auth_client(user).get(f"{URL}?page_size=0"), 400, "invalid")


def test_feed_query_count_does_not_grow_with_the_page(auth_client, user, django_assert_num_queries):
    # given a followed author and plenty of reels with likes
    friend = UserFactory()
    Follow.objects.create(follower=user, followee=friend)
    ReelFactory.create_batch(3, author=friend)
    ReelFactory.create_batch(12)
    client = auth_client(user)
    client.get(URL)  # warm the token path

    # then one page costs: auth (user), blocks, followed section, everyone section, likes and
    # hashtags of the page
    with django_assert_num_queries(6):
        response = client.get(f"{URL}?page_size=10")
    assert len(_ids(response)) == 10


def test_feed_needs_authentication(api_client):
    assert_error(api_client.get(URL), 401)
