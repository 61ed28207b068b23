"""Trending reels: recent likes and comments, views, and decay with age; ranked by the beat task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.services import block_create
from apps.reels import trending
from apps.reels.models import Reel, ReelComment, ReelLike
from apps.reels.tasks import trending_refresh_task
from tests.accounts.factories import UserFactory
from tests.reels.factories import ReelFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/reels/trending/"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [r["id"] for r in response.json()["results"]]


def _aged(hours: float, **kwargs) -> Reel:
    return ReelFactory(published_at=timezone.now() - timedelta(hours=hours), **kwargs)


def _likes(reel: Reel, n: int, *, hours_ago: float = 0) -> None:
    likes = ReelLike.objects.bulk_create(ReelLike(reel=reel, user=UserFactory()) for _ in range(n))
    ReelLike.objects.filter(pk__in=[x.pk for x in likes]).update(created_at=timezone.now() - timedelta(hours=hours_ago))


def test_the_formula():
    assert trending.trending_score(likes=0, comments=0, views=0, age_hours=2) == pytest.approx(1 / 8)
    assert trending.trending_score(likes=3, comments=2, views=20, age_hours=0) == pytest.approx(9 / 2**1.5)


def test_recent_engagement_with_decay_orders_the_list(auth_client):
    # a day-old reel with 20 fresh likes, a fresh one with 3 likes and 2 comments, an old reel whose
    # likes are all from before the window, and a fresh reel nobody touched
    day_old = _aged(24)
    _likes(day_old, 20)  # 21 / 26^1.5 = 0.158
    fresh = _aged(1)
    _likes(fresh, 3)
    for _ in range(2):
        ReelComment.objects.create(reel=fresh, author=UserFactory(), text="ramro")  # 8 / 3^1.5 = 1.54
    stale = _aged(100)
    _likes(stale, 50, hours_ago=72)  # 1 / 102^1.5
    untouched = _aged(0.5)  # 1 / 2.5^1.5 = 0.253
    viewed = _aged(24, views_count=400)  # 21 / 26^1.5, the same as day_old: the newer id first

    assert trending_refresh_task() == 5
    assert _ids(auth_client(UserFactory()).get(URL)) == [fresh.pk, untouched.pk, viewed.pk, day_old.pk, stale.pk]


def test_removed_old_and_blocked_reels_are_left_out(auth_client):
    reader = UserFactory()
    shown = _aged(1)
    _aged(1, status=Reel.Status.DELETED)
    _aged(1, status=Reel.Status.REJECTED)
    _aged(1, status=Reel.Status.PROCESSING)
    _aged(24 * 8)  # older than REELS_TRENDING_MAX_AGE_DAYS
    gone = _aged(1)
    blocked = _aged(1)
    block_create(blocker=blocked.author, blocked=reader)
    inactive = _aged(1)
    inactive.author.is_active = False
    inactive.author.save()
    trending_refresh_task()
    # taken down after the ranking: gone at once
    Reel.objects.filter(pk=gone.pk).update(status=Reel.Status.REJECTED)

    assert _ids(auth_client(reader).get(URL)) == [shown.pk]


def test_pages_keep_to_one_ranking(auth_client):
    reels = [_aged(hours) for hours in (1, 2, 3, 4, 5)]
    trending_refresh_task()
    client = auth_client(UserFactory())
    first = client.get(URL, {"page_size": 2}).json()
    _likes(reels[4], 30)
    trending_refresh_task()  # reranked meanwhile: the open list keeps its order
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    assert [r["id"] for p in (first, second, third) for r in p["results"]] == [r.pk for r in reels]
    assert third["next"] is None
    # a new list sees the new ranking
    assert _ids(client.get(URL, {"page_size": 1})) == [reels[4].pk]
    bad = client.get(URL, {"cursor": "bm90OmE"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


def test_the_list_needs_a_signed_in_user(api_client):
    assert api_client.get(URL).status_code == 401
