"""Leaderboards agree with the ledger: replay random sends, then compare every board with postings."""

import io
import random
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from apps.gifts import leaderboards
from apps.gifts.leaderboards import Board, Period, SendFigures
from apps.gifts.models import GiftSend
from apps.gifts.services import gift_send, leaderboard_record
from apps.wallet.models import Posting
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db(transaction=True)


def _replay(seed: int = 7) -> tuple[list, list]:
    rng = random.Random(seed)
    streams = [LiveStreamFactory() for _ in range(3)]
    senders = [UserFactory() for _ in range(6)]
    for s in senders:
        fund(s, 50_000)
    gifts = [GiftFactory(coin_price=p) for p in (1, 5, 20, 99)]
    for _ in range(60):
        gift_send(
            sender_id=rng.choice(senders).pk,
            stream_id=rng.choice(streams).pk,
            gift_id=rng.choice(gifts).pk,
            quantity=rng.randint(1, 12),
        )
    return streams, senders


def _ledger_spent() -> dict[int, int]:
    """Coins each user spent on gifts, read from the ledger's postings."""
    rows = (
        Posting.objects.filter(entry__kind="gift", account__kind="user_coins")
        .values("account__owner_id")
        .annotate(total=Sum("amount"))
    )
    return {r["account__owner_id"]: -r["total"] for r in rows}


def _ledger_earned() -> dict[int, int]:
    rows = (
        Posting.objects.filter(entry__kind="gift", account__kind="host_earnings")
        .values("account__owner_id")
        .annotate(total=Sum("amount"))
    )
    return {r["account__owner_id"]: r["total"] for r in rows}


def _board(api, path: str, **params) -> dict[int, int]:
    response = api.get(path, {"limit": 100, **params})
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["coins"] for r in rows] == sorted((r["coins"] for r in rows), reverse=True)
    return {r["user"]["id"]: r["coins"] for r in rows}


@pytest.mark.parametrize("backend", ["redis", "sql"])
def test_boards_match_the_ledger_after_replaying_sends(backend, settings, auth_client):
    # given 60 random sends between 6 senders and 3 hosts, counted by the chosen backend
    settings.GIFT_LEADERBOARD_BACKEND = backend
    streams, senders = _replay()
    api = auth_client(senders[0])

    # then top gifters and top hosts for today, this week and all time equal the ledger's sums
    for period in ("day", "week", "all"):
        assert _board(api, "/api/v1/gifts/leaderboards/gifters/", period=period) == _ledger_spent()
        assert _board(api, "/api/v1/gifts/leaderboards/hosts/", period=period) == _ledger_earned()
    # and each stream's top gifters equal what its sends cost
    for stream in streams:
        expected = defaultdict(int)
        for sender_id, coins in GiftSend.objects.filter(stream=stream).values_list("sender_id", "coins"):
            expected[sender_id] += coins
        assert _board(api, f"/api/v1/gifts/leaderboards/streams/{stream.pk}/gifters/") == dict(expected)


def test_rebuild_restores_redis_boards_from_sends(settings, auth_client):
    settings.GIFT_LEADERBOARD_BACKEND = "redis"
    streams, senders = _replay(seed=11)
    api = auth_client(senders[0])
    before = _board(api, "/api/v1/gifts/leaderboards/gifters/", period="week")
    stream_before = _board(api, f"/api/v1/gifts/leaderboards/streams/{streams[0].pk}/gifters/")

    # when Redis loses the boards, and one is corrupted
    client = leaderboards._client()
    for key in client.scan_iter(leaderboards.deployment_key(f"{leaderboards.PREFIX}*")):
        client.delete(key)
    client.zadd(leaderboards.redis_key(Board.HOSTS, Period.ALL, timezone.now()), {"999999": 5})
    assert _board(api, "/api/v1/gifts/leaderboards/gifters/", period="week") == {}

    # then the rebuild command brings back exactly the sums of the sends
    out = io.StringIO()
    call_command("gifts_leaderboard_rebuild", stdout=out)
    assert "rebuilt" in out.getvalue()
    assert _board(api, "/api/v1/gifts/leaderboards/gifters/", period="week") == before == _ledger_spent()
    assert _board(api, "/api/v1/gifts/leaderboards/hosts/", period="all") == _ledger_earned()
    assert _board(api, f"/api/v1/gifts/leaderboards/streams/{streams[0].pk}/gifters/") == stream_before


def test_day_and_week_boards_only_count_their_period(settings):
    settings.GIFT_LEADERBOARD_BACKEND = "redis"
    sender, host = UserFactory(), UserFactory()
    now = timezone.now()
    last_week = now - timedelta(days=8)
    # given a send counted last week and one today
    leaderboard_record(sends=[SendFigures(sender.pk, host.pk, 1, 100, 60, last_week)])
    leaderboard_record(sends=[SendFigures(sender.pk, host.pk, 1, 10, 6, now)])

    assert leaderboards.redis_top(Board.GIFTERS, Period.DAY, now=now, stream_id=None, limit=5) == [(sender.pk, 10)]
    assert leaderboards.redis_top(Board.GIFTERS, Period.WEEK, now=now, stream_id=None, limit=5) == [(sender.pk, 10)]
    assert leaderboards.redis_top(Board.HOSTS, Period.ALL, now=now, stream_id=None, limit=5) == [(host.pk, 66)]


def test_leaderboard_period_is_validated_and_sign_in_required(api_client, auth_client, user):
    response = auth_client(user).get("/api/v1/gifts/leaderboards/gifters/", {"period": "year"})
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert api_client.get("/api/v1/gifts/leaderboards/hosts/").status_code == 401


def test_a_popular_hosts_sends_are_summed_into_one_flush(settings):
    # given sends waiting in this process for the next flush
    settings.GIFT_LEADERBOARD_BACKEND = "redis"
    settings.GIFT_LEADERBOARD_FLUSH_SECONDS = 60
    fans, host, now = [UserFactory() for _ in range(3)], UserFactory(), timezone.now()
    for i in range(30):
        leaderboard_record(sends=[SendFigures(fans[i % 3].pk, host.pk, 7, 10, 6, now)])

    # when a board is read, this process's waiting sends are added first, summed per member
    top = leaderboards.redis_top(Board.HOSTS, Period.ALL, now=now, stream_id=None, limit=5)

    assert top == [(host.pk, 180)]
    stream_top = leaderboards.redis_top(Board.STREAM, Period.ALL, now=now, stream_id=7, limit=5)
    assert sorted(stream_top) == sorted((fan.pk, 100) for fan in fans)


def test_waiting_sends_reach_the_boards_without_a_read(settings):
    settings.GIFT_LEADERBOARD_BACKEND = "redis"
    settings.GIFT_LEADERBOARD_FLUSH_SECONDS = 0.05
    fan, host, now = UserFactory(), UserFactory(), timezone.now()

    leaderboard_record(sends=[SendFigures(fan.pk, host.pk, 8, 40, 24, now)])

    key = leaderboards.redis_key(Board.GIFTERS, Period.DAY, now)
    deadline = time.monotonic() + 5
    while leaderboards._client().zscore(key, fan.pk) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leaderboards._client().zscore(key, fan.pk) == 40
