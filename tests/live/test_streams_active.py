"""GET /api/v1/streams/active/: every live stream is reachable, ranked and filtered in PostgreSQL."""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.services import block_create, follow_create
from apps.live.models import Stream
from apps.live.selectors import active_cache_clear, category_list_active
from apps.live.services import stream_stats_update
from tests.live.factories import LiveStreamFactory, live_streams_bulk

pytestmark = pytest.mark.django_db

URL = "/api/v1/streams/active/"


def all_pages(client, **params) -> tuple[list[dict], list[int]]:
    """Every page from the first, following next_cursor: (the pages' bodies, the ids in order)."""
    bodies, ids = [], []
    body = client.get(URL, params).json()
    while True:
        bodies.append(body)
        ids.extend(row["id"] for row in body["results"])
        if body["next_cursor"] is None:
            return bodies, ids
        body = client.get(URL, {**params, "cursor": body["next_cursor"]}).json()


def test_paging_reaches_every_live_stream_well_past_500(auth_client, user):
    # given 620 live streams (viewer counts with ties) and a few that ended
    counts = [random.Random(7).randint(0, 50) for _ in range(620)]
    streams = live_streams_bulk(counts)
    LiveStreamFactory.create_batch(3, status=Stream.Status.ENDED, current_viewers=10_000)

    # when a viewer pages through 100 at a time
    bodies, ids = all_pages(auth_client(user), limit=100)

    # then every live stream comes exactly once, most watched first (ties: newest first)
    assert bodies[0]["count"] == 620 and len(bodies) == 7
    assert len(ids) == len(set(ids)) == 620
    expected = [s.pk for s in sorted(streams, key=lambda s: (s.current_viewers, s.pk), reverse=True)]
    assert ids == expected


def test_filters_search_every_live_stream_not_only_the_most_watched(auth_client, user):
    # given 600 busy music streams, and talk streams and followed hosts only among the least watched
    live_streams_bulk([1_000 + i for i in range(600)])
    talk = live_streams_bulk([1, 2, 3, 4, 5], category="talk")
    quiet = live_streams_bulk([0, 0, 0])
    for stream in quiet:
        follow_create(follower=user, followee=stream.host)
    client = auth_client(user)

    # then the category and following filters find them
    _, talk_ids = all_pages(client, category="TALK", limit=2)
    assert talk_ids == [s.pk for s in reversed(talk)]
    _, followed = all_pages(client, following="true")
    assert sorted(followed) == sorted(s.pk for s in quiet)
    # and a host who blocked the viewer is left out, however far down they are
    block_create(blocker=quiet[0].host, blocked=user)
    _, followed = all_pages(client, following="true")
    assert sorted(followed) == sorted(s.pk for s in quiet[1:])
    assert all_pages(client, limit=100)[0][0]["count"] == 600 + 5 + 2


def test_no_stream_twice_and_none_left_out_while_counts_change_between_pages(auth_client, user):
    # given 550 live streams
    streams = live_streams_bulk(list(range(550)))
    client = auth_client(user)
    first = client.get(URL, {"limit": 100}).json()
    seen = [row["id"] for row in first["results"]]

    # when every count changes (the ranking turns upside down) while the viewer pages on
    for stream in streams:
        stream_stats_update(stream_id=stream.pk, viewers=1_000 - stream.current_viewers)
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(URL, {"limit": 100, "cursor": cursor}).json()
        seen.extend(row["id"] for row in page["results"])
        cursor = page["next_cursor"]

    # then the pages follow the ranking of the first page: each stream once, none missing
    assert len(seen) == len(set(seen)) == 550
    assert seen == [s.pk for s in reversed(streams)]
    # and a first page ranks the new counts once the shared first page is stale (after
    # LIVE_ACTIVE_CACHE_SECONDS, or at once when a stream goes live or ends, as here)
    active_cache_clear()
    assert client.get(URL, {"limit": 1}).json()["results"][0]["id"] == streams[0].pk


def test_a_first_page_reads_only_its_own_rows(auth_client, user):
    live_streams_bulk(list(range(700)))
    client = auth_client(user)
    category_list_active()  # the category names are read once and cached for every reader
    with CaptureQueriesContext(connection) as queries:
        body = client.get(URL, {"limit": 20}).json()
    assert len(body["results"]) == 20 and body["count"] == 700
    # auth, blocks, the ranked ids (no row built) and one query for the page's 20 streams with hosts
    assert len(queries) == 4, [q["sql"][:120] for q in queries]
    page_query = queries[-1]["sql"]
    assert "JOIN" in page_query and page_query.count("%s") <= 21 and page_query.count(", ") < 200


def test_a_bad_or_expired_cursor_is_a_400(auth_client, user):
    client = auth_client(user)
    for cursor in ("not-a-cursor", "Zm9vOmJhcg", "ZGVhZGJlZWY6MTA"):  # garbage, "foo:bar", "deadbeef:10"
        response = client.get(URL, {"cursor": cursor})
        assert response.status_code == 400, cursor
        assert response.json()["code"] == "invalid_cursor"


def test_offset_paging_of_clients_built_before_the_cursor_still_works_and_says_it_is_deprecated(auth_client, user):
    # given 7 live streams
    streams = live_streams_bulk([10, 20, 30, 40, 50, 60, 70])
    ranked = [s.pk for s in sorted(streams, key=lambda s: s.current_viewers, reverse=True)]
    client = auth_client(user)

    # when an older client pages with offset
    response = client.get(URL, {"limit": 3, "offset": 3})

    # then it gets that slice of the ranking, where to go next, and the deprecation header
    body = response.json()
    assert [row["id"] for row in body["results"]] == ranked[3:6]
    assert body["next_offset"] == 6 and body["count"] == 7
    assert response.headers["Deprecation"].startswith("@")
    last = client.get(URL, {"limit": 3, "offset": body["next_offset"]}).json()
    assert [row["id"] for row in last["results"]] == ranked[6:] and last["next_offset"] is None
    # and a client on the cursor is not told it is deprecated
    assert "Deprecation" not in client.get(URL, {"limit": 3}).headers
