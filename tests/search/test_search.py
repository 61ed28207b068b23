"""Search: users, live streams and reels, across Devanagari and romanised Nepali (apps.core.search)."""

from datetime import timedelta

import pytest
from django.db import ProgrammingError, connection, transaction
from django.utils import timezone

from apps.accounts.models import Block, User
from apps.accounts.services import user_update_profile
from apps.core import search as core_search
from apps.core.search import INDEX_SCANS, planned_rows, planned_sql_rows, search_similar, search_terms, search_text
from apps.live.models import Stream
from apps.reels.models import Reel
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.live.factories import LiveStreamFactory
from tests.reels.factories import ReelFactory

USERS, STREAMS, REELS, TOP = (
    "/api/v1/search/users/",
    "/api/v1/search/streams/",
    "/api/v1/search/reels/",
    "/api/v1/search/",
)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [row["id"] for row in response.json()["results"]]


# --- The key: both scripts meet -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("devanagari", "typed"),
    [
        ("नमस्ते", "namaste"),
        ("साथी", "sathi"),
        ("साथी", "saathi"),
        ("दाइ", "dai"),
        ("दाई", "dai"),
        ("नेपाल", "Nepal"),
        ("राम", "ram"),
        ("दीपक", "Deepak"),
        ("विश्वास", "biswas"),
        ("विश्वास", "vishwas"),
        ("श्रेष्ठ", "Shrestha"),
        ("सत्य", "satya"),
        ("हिंदी", "hindi"),
        ("ज्ञान", "gyan"),
        ("चिया", "chiya"),
        ("धन्यवाद", "dhanyawad"),
        ("गाउँ", "gaun"),
    ],
)
def test_a_devanagari_word_and_its_usual_romanised_spelling_have_one_key(devanagari, typed):
    assert search_text(devanagari) == search_text(typed) != ""


def test_the_key_drops_case_diacritics_punctuation_and_hashtag_marks():
    assert search_text("#Namaste, Café!", "२०८१") == "namaste cafe 2081"
    assert search_terms("!!! 😀") is None


# --- Both scripts, through the API ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_romanised_query_finds_a_devanagari_name_and_the_reverse(auth_client, user):
    devanagari = UserFactory(username="host_one", display_name="नमस्ते साथी")
    romanised = UserFactory(username="host_two", display_name="Sathi Dai")
    UserFactory(username="someone_else", display_name="Unrelated Person")
    client = auth_client(user)

    assert _ids(client.get(USERS, {"q": "namaste"})) == [devanagari.pk]
    assert set(_ids(client.get(USERS, {"q": "साथी"}))) == {devanagari.pk, romanised.pk}
    assert _ids(client.get(USERS, {"q": "दाइ"})) == [romanised.pk]
    # a typed spelling variant and a prefix still find it
    assert _ids(client.get(USERS, {"q": "namastee"})) == [devanagari.pk]
    assert _ids(client.get(USERS, {"q": "namas"})) == [devanagari.pk]


@pytest.mark.django_db
def test_streams_are_found_by_title_or_host_name_in_either_script(auth_client, user):
    host = UserFactory(username="pokhara_gayak", display_name="गायक")
    stream = LiveStreamFactory(host=host, title="बेलुकीको गीत")
    other = LiveStreamFactory(title="Cooking momo")
    client = auth_client(user)

    assert _ids(client.get(STREAMS, {"q": "geet"})) == [stream.pk]
    assert _ids(client.get(STREAMS, {"q": "gayak"})) == [stream.pk]
    assert _ids(client.get(STREAMS, {"q": "मोमो"})) == [other.pk]


@pytest.mark.django_db
def test_a_stream_hit_names_its_catalogue_category_and_says_empty_for_none(auth_client, user):
    """The fuzz test found `category: null` for a stream without one (the schema says a string)."""
    LiveStreamFactory(title="Dashain geet", category="music")
    LiveStreamFactory(title="Dashain gaff", category=None)
    client = auth_client(user)

    hits = client.get(STREAMS, {"q": "dashain"}).json()["results"]
    assert sorted((hit["category"], hit["category_name"]) for hit in hits) == [("", ""), ("music", "Music")]


@pytest.mark.django_db
def test_reels_are_found_by_caption_and_hashtags_in_either_script(auth_client, user):
    reel = ReelFactory(caption="आज #दशैं को टीका")
    other = ReelFactory(caption="Evening in #Pokhara lakeside")
    client = auth_client(user)

    assert _ids(client.get(REELS, {"q": "dashain"})) == [reel.pk]
    assert _ids(client.get(REELS, {"q": "#dashain tika"})) == [reel.pk]
    assert _ids(client.get(REELS, {"q": "पोखरा"})) == [other.pk]


@pytest.mark.django_db
def test_a_rename_keeps_the_search_key_in_step(auth_client, user):
    host = UserFactory(username="renamer", display_name="Old Name")
    stream = LiveStreamFactory(host=host, title="Evening show")
    client = auth_client(user)

    user_update_profile(user=host, data={"display_name": "नयाँ नाम"})

    assert _ids(client.get(USERS, {"q": "naya nam"})) == [host.pk]
    assert _ids(client.get(STREAMS, {"q": "naya nam"})) == [stream.pk]
    assert _ids(client.get(USERS, {"q": "old name"})) == []


# --- Ranking and pages ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_exact_word_ranks_above_a_close_spelling_and_recent_sign_in_breaks_ties(auth_client, user):
    now = timezone.now()
    close = UserFactory(username="u_close", display_name="Namastey Ghar", last_login=now)
    prefix = UserFactory(username="u_prefix", display_name="Namastebhai", last_login=now)
    exact_recent = UserFactory(username="u_recent", display_name="नमस्ते", last_login=now - timedelta(hours=1))
    exact_idle = UserFactory(username="u_idle", display_name="Namaste", last_login=now - timedelta(days=90))

    # few rows have the word as such: the close spelling is ranked too, below them
    assert _ids(auth_client(user).get(USERS, {"q": "namaste"})) == [exact_recent.pk, exact_idle.pk, prefix.pk, close.pk]


@pytest.mark.django_db
def test_reels_tie_on_relevance_and_then_rank_by_likes(auth_client, user):
    liked = ReelFactory(caption="#momo", likes_count=50)
    quiet = ReelFactory(caption="#momo", likes_count=1)
    middle = ReelFactory(caption="#मोमो", likes_count=10)

    assert _ids(auth_client(user).get(REELS, {"q": "momo"})) == [liked.pk, middle.pk, quiet.pk]


@pytest.mark.django_db
def test_pages_follow_the_ranking_without_repeats_or_gaps(auth_client, user):
    reels = [ReelFactory(caption=f"#sathi {'x' * i}", likes_count=i % 3) for i in range(7)]
    client = auth_client(user)
    first = client.get(REELS, {"q": "sathi"}).json()
    everything = [row["id"] for row in first["results"]]  # default page of 20 holds all seven
    assert sorted(everything) == sorted(reel.pk for reel in reels)

    seen, url = [], f"{REELS}?q=sathi&page_size=3"
    while url:
        body = client.get(url).json()
        assert len(body["results"]) <= 3
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == everything


# --- What never appears ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_deleted_banned_and_blocked_users_are_not_found(auth_client, user):
    shown = UserFactory(username="kanchha_1", display_name="Kanchha")
    UserFactory(username="kanchha_2", display_name="Kanchha", is_active=False)
    UserFactory(username="kanchha_3", display_name="Kanchha", banned_until=timezone.now() + timedelta(days=1))
    blocked_by_me = UserFactory(username="kanchha_4", display_name="Kanchha")
    blocking_me = UserFactory(username="kanchha_5", display_name="Kanchha")
    Block.objects.create(blocker=user, blocked=blocked_by_me)
    Block.objects.create(blocker=blocking_me, blocked=user)
    ban_over = UserFactory(
        username="kanchha_6", display_name="Kanchha", banned_until=timezone.now() - timedelta(days=1)
    )

    assert set(_ids(auth_client(user).get(USERS, {"q": "kanchha"}))) == {shown.pk, ban_over.pk}


@pytest.mark.django_db
def test_ended_streams_and_blocked_hosts_are_not_found(auth_client, user):
    live = LiveStreamFactory(title="Bhajan sandhya")
    LiveStreamFactory(title="Bhajan sandhya", status=Stream.Status.ENDED)
    LiveStreamFactory(title="Bhajan sandhya", status=Stream.Status.ENDED_BY_MODERATION)
    LiveStreamFactory(title="Bhajan sandhya", status=Stream.Status.PREPARING)
    blocked = LiveStreamFactory(title="Bhajan sandhya")
    Block.objects.create(blocker=blocked.host, blocked=user)

    assert _ids(auth_client(user).get(STREAMS, {"q": "bhajan"})) == [live.pk]


@pytest.mark.django_db
def test_removed_unpublished_and_blocked_authors_reels_are_not_found(auth_client, user):
    shown = ReelFactory(caption="#tihar")
    for status in (Reel.Status.PROCESSING, Reel.Status.REJECTED, Reel.Status.DELETED):
        ReelFactory(caption="#tihar", status=status)
    ReelFactory(caption="#tihar", author=UserFactory(is_active=False))
    blocked = ReelFactory(caption="#tihar")
    Block.objects.create(blocker=user, blocked=blocked.author)

    assert _ids(auth_client(user).get(REELS, {"q": "tihar"})) == [shown.pk]


# --- The combined answer, bad input, throttle, sign-in --------------------------------------------


@pytest.mark.django_db
def test_the_top_answer_holds_the_best_few_of_each_kind(auth_client, user):
    person = UserFactory(username="maya_devi", display_name="माया")
    stream = LiveStreamFactory(title="Maya ko geet")
    reels = [ReelFactory(caption=f"#maya {i}", likes_count=i) for i in range(7)]

    body = auth_client(user).get(TOP, {"q": "माया"}).json()

    assert [row["id"] for row in body["users"]] == [person.pk]
    assert [row["id"] for row in body["streams"]] == [stream.pk]
    assert [row["id"] for row in body["reels"]] == [reel.pk for reel in reversed(reels)][:5]


@pytest.mark.django_db
@pytest.mark.parametrize("path", [USERS, STREAMS, REELS, TOP])
def test_bad_queries_are_refused_with_the_one_error_shape(auth_client, user, path):
    client = auth_client(user)
    for params in ({}, {"q": ""}, {"q": "a"}, {"q": "x" * 101}, {"q": "!?"}, {"q": "ok", "sort": "new"}):
        body = assert_error(client.get(path, params), 400, "invalid")
        assert set(body["details"]) & {"q", "sort"}, body
    assert client.get(path, {"q": "ok"}).status_code == 200
    assert client.get(path, {"q": "x" * 100}).status_code == 200


@pytest.mark.django_db
def test_a_cursor_the_server_did_not_give_is_a_404_and_a_bad_page_size_a_400(auth_client, user):
    client = auth_client(user)
    assert_error(client.get(USERS, {"q": "namaste", "cursor": "not-a-cursor"}), 404, "not_found")
    assert_error(client.get(USERS, {"q": "namaste", "page_size": "0"}), 400, "invalid")


@pytest.mark.django_db
def test_search_needs_a_signed_in_user_and_is_rate_limited_per_user(api_client, auth_client, settings, user):
    assert_error(api_client.get(USERS, {"q": "namaste"}), 401)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "search": "3/min"},
    }
    client = auth_client(user)
    assert [client.get(path, {"q": "namaste"}).status_code for path in (USERS, STREAMS, TOP)] == [200, 200, 200]
    assert_error(client.get(REELS, {"q": "namaste"}), 429, "throttled")
    assert auth_client(UserFactory()).get(USERS, {"q": "namaste"}).status_code == 200


# --- The indexes the queries use ------------------------------------------------------------------

_SYLLABLES = ["ka", "ri", "mo", "sa", "ne", "pu", "ta", "lo", "bi", "ga", "dh", "shu", "ya", "ro", "mi"]


def _gibberish(i: int) -> str:
    return " ".join(
        "".join(_SYLLABLES[(i * 7 + w * 13 + k * 5) % len(_SYLLABLES)] for k in range(3)) + str(i % 97)
        for w in range(3)
    )


@pytest.mark.django_db
def test_the_queries_use_both_gin_indexes(user):
    from apps.accounts.search import user_search
    from apps.live.search import stream_search
    from apps.reels.search import reel_search

    hosts = User.objects.bulk_create(
        User(username=f"idx{i}", display_name=_gibberish(i), search_text=search_text(f"idx{i}", _gibberish(i)))
        for i in range(3000)
    )
    now = timezone.now()
    Stream.objects.bulk_create(
        Stream(
            host=host, title=host.display_name, status=Stream.Status.LIVE, started_at=now, search_text=host.search_text
        )
        for host in hosts
    )
    reel = ReelFactory(caption="seed")
    Reel.objects.bulk_create(
        Reel(
            author=host,
            caption=host.display_name,
            video=reel.video.name,
            content_type="video/mp4",
            size_bytes=1,
            status=Reel.Status.PUBLISHED,
            search_text=host.search_text,
        )
        for host in hosts
    )
    with connection.cursor() as cursor:
        for table in ("accounts_user", "live_stream", "reels_reel"):
            cursor.execute(f"ANALYZE {table}")
    terms = search_terms("namaste sathi")
    for prefix, search in (("user", user_search), ("stream", stream_search), ("reel", reel_search)):
        # the words found as such: on the full-text index
        plan = search(viewer=user, terms=terms).explain()
        assert f"{prefix}_search_fts_idx" in plan, plan
    for prefix, model in (("user", User), ("stream", Stream), ("reel", Reel)):
        # the close spellings (when those are few): on the trigram index, as search_filter asks for them
        plan = _explain(search_similar(model.objects.all(), terms), **INDEX_SCANS)
        assert f"{prefix}_search_trgm_idx" in plan, plan


@pytest.mark.django_db
def test_every_save_path_keeps_the_key(user):
    made = User.objects.create_user(username="sita_ram", password="x" * 20, display_name="सीता")
    assert made.search_text == "sita ram sita"
    made.display_name = "Gita"
    made.save(update_fields=["display_name"])
    made.refresh_from_db()
    assert made.search_text == "sita ram gita"


# --- A common query: each tier read in popularity order (apps.core.search.RANK_ALL_BELOW) ----------


def _common(monkeypatch, *, depth: int) -> list[int]:
    """Every query of more than 3 rows is a common one; the reads in popularity order, counted."""
    walks: list[int] = []
    most_popular = core_search._most_popular

    def counted(*args, **kwargs):
        walks.append(1)
        return most_popular(*args, **kwargs)

    monkeypatch.setattr(core_search, "_most_popular", counted)
    monkeypatch.setattr(core_search, "FUZZY_BELOW", 1)
    monkeypatch.setattr(core_search, "RANK_ALL_BELOW", 3)
    monkeypatch.setattr(core_search, "RANKED_DEPTH", depth)
    return walks


def _ranked(search, viewer, query: str) -> list[tuple[float, int]]:
    from apps.core.pagination import SearchCursorPagination

    rows = search(viewer=viewer, terms=search_terms(query)).order_by(*SearchCursorPagination.ordering)
    return [(row.score, row.pk) for row in rows]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["namaste", "nam", "namaste sathi", "sathi"])
def test_a_common_query_ranks_its_first_rows_as_ranking_every_row_would(monkeypatch, user, query):
    """Read from the popularity index, most liked first, a common query's tiers give the same first
    RANKED_DEPTH rows (whole words, then prefixes, then likes), hidden and blocked authors left out."""
    from apps.reels.search import reel_search

    captions = ["namaste", "namastebhai", "namaste sathi", "sathi", "namaskar sathi", "hello"]
    for i in range(36):
        ReelFactory(caption=captions[i % len(captions)], likes_count=(i * 7) % 11)
    ReelFactory(caption="namaste sathi", likes_count=99, author=UserFactory(is_active=False))
    ReelFactory(caption="namaste sathi", likes_count=98, status=Reel.Status.PROCESSING)
    blocked = ReelFactory(caption="namaste sathi", likes_count=97)
    Block.objects.create(blocker=blocked.author, blocked=user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reels_reel")

    everything = _ranked(reel_search, user, query)  # few rows: all ranked
    assert everything and blocked.pk not in {pk for _, pk in everything}
    walks = _common(monkeypatch, depth=5)
    common = _ranked(reel_search, user, query)

    assert walks
    assert common[:5] == everything[:5]
    assert set(common) <= set(everything)


@pytest.mark.django_db
def test_a_common_name_ranks_its_first_users_as_ranking_every_user_would(monkeypatch, user):
    from apps.accounts.search import user_search

    now = timezone.now()
    for i in range(30):
        UserFactory(
            username=f"kanchha_{i}",
            display_name=["Kanchha", "Kanchhi", "Kanchha Thapa"][i % 3],
            last_login=now - timedelta(hours=(i * 7) % 13),
        )
    UserFactory(username="kanchha_gone", display_name="Kanchha", is_active=False, last_login=now)
    UserFactory(username="kanchha_banned", banned_until=now + timedelta(days=1), last_login=now)

    queries = ("kanch", "kanchha", "kanchha thapa")
    everything = {query: _ranked(user_search, user, query) for query in queries}
    walks = _common(monkeypatch, depth=4)
    for query in queries:
        assert _ranked(user_search, user, query)[:4] == everything[query][:4], query
    assert len(walks) >= len(queries)


@pytest.mark.django_db
def test_a_common_query_reads_the_popularity_indexes(monkeypatch, user):
    """What the 100,000-row benchmark relies on: the tiers read on reel_search_likes_idx and
    user_search_recent_idx in order (a common word's rows are never all read and sorted)."""
    from apps.accounts.search import user_search
    from apps.reels.search import reel_search

    plans: list[str] = []

    def most_popular(qs, condition, *, limit, whole):
        walk = qs.filter(condition).order_by("-popularity", "-pk").values("pk")[:limit]
        plans.append(_explain(walk, **core_search._IN_POPULARITY_ORDER))
        return []

    _common(monkeypatch, depth=2)
    monkeypatch.setattr(core_search, "_most_popular", most_popular)
    for i in range(3):
        ReelFactory(caption="momo")
        UserFactory(username=f"momo_{i}")
    list(reel_search(viewer=user, terms=search_terms("momo")))
    list(user_search(viewer=user, terms=search_terms("momo")))

    assert any("reel_search_likes_idx" in plan for plan in plans), plans
    assert any("user_search_recent_idx" in plan for plan in plans), plans


def _explain(qs, **settings: str) -> str:
    """The plan of `qs` under these planner settings (as planned_rows runs it)."""
    sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    return "\n".join(row[0] for row in planned_sql_rows(f"EXPLAIN {sql}", params, **settings))


def _setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_seqscan")
        return cursor.fetchone()[0]


def _planned_setting() -> list[tuple]:
    return planned_sql_rows("SELECT current_setting('enable_seqscan')", [], enable_seqscan="off")


@pytest.mark.django_db(transaction=True)
def test_planner_settings_hold_for_their_query_only_in_or_out_of_a_transaction(user):
    # out of a transaction (autocommit, as a request runs): the message's implicit transaction
    assert _planned_setting() == [("off",)]
    assert _setting() == "on"
    assert planned_rows(User.objects.filter(pk=user.pk).values_list("pk", "username"), enable_seqscan="off") == [
        (user.pk, user.username)
    ]
    assert _setting() == "on"
    with pytest.raises(ProgrammingError):
        planned_sql_rows("SELECT no_such_column FROM accounts_user", [], enable_seqscan="off")
    assert _setting() == "on"
    # in one: rolled back to a savepoint, the transaction going on
    with transaction.atomic():
        assert _planned_setting() == [("off",)]
        assert _setting() == "on"
        assert User.objects.filter(pk=user.pk).exists()
    # a failed query inside a transaction: its own error comes out, the rollback undoes the settings
    with pytest.raises(ProgrammingError), transaction.atomic():
        planned_sql_rows("SELECT no_such_column FROM accounts_user", [], enable_seqscan="off")
    assert _setting() == "on"


def test_only_plain_planner_settings_are_written_into_the_sql():
    with pytest.raises(ValueError, match="not a planner setting"):
        planned_sql_rows("SELECT 1", [], enable_seqscan="off'; DROP TABLE accounts_user; --")
    with pytest.raises(ValueError, match="not a planner setting"):
        planned_sql_rows("SELECT 1", [], **{"work_mem = 1; --": "on"})


# Each statement is a round trip, under load the larger part of a search request: counted, so that
# none creeps back. The user (authentication), the bare count, the read in popularity order with its
# planner settings (one message), the ranking, the page's hosts/authors.
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "query", "common", "statements"),
    [
        (USERS, "momo", True, 4),
        (STREAMS, "momo", True, 5),
        (REELS, "momo", True, 5),
        (TOP, "momo", True, 10),  # the three counts in one statement
        # nothing found: the count, the close spellings (with their planner setting), the ranking
        (USERS, "zzzqx", False, 4),
        (REELS, "zzzqx", False, 4),
        (TOP, "zzzqx", False, 8),
    ],
)
def test_a_search_request_sends_few_statements(monkeypatch, auth_client, user, path, query, common, statements):
    from django.test.utils import CaptureQueriesContext

    for i in range(6):
        ReelFactory(caption="momo khana")
        UserFactory(username=f"momo_{i}")
        LiveStreamFactory(title="momo khana")
    client = auth_client(user)
    client.get(STREAMS, {"q": "momo"})  # what a process reads once (the stream categories, cached)
    if common:
        walks = _common(monkeypatch, depth=2)
    with CaptureQueriesContext(connection) as sent:
        response = client.get(path, {"q": query})

    assert response.status_code == 200
    if common:
        assert walks
        assert any(response.json().values()) if path == TOP else _ids(response)
    assert len(sent.captured_queries) == statements, [q["sql"][:120] for q in sent.captured_queries]


@pytest.mark.django_db
@pytest.mark.parametrize("common", [False, True])
def test_the_top_answer_counted_at_once_lists_what_each_kind_lists_first(monkeypatch, auth_client, user, common):
    for i in range(8):
        ReelFactory(caption=["momo khana", "momo", "momos"][i % 3], likes_count=i)
        UserFactory(username=f"momo_{i}")
        LiveStreamFactory(title=["momo khana", "momo"][i % 2], current_viewers=i)
    client = auth_client(user)
    if common:
        walks = _common(monkeypatch, depth=6)
    top = client.get(TOP, {"q": "momo"}).json()

    for kind, path in (("users", USERS), ("streams", STREAMS), ("reels", REELS)):
        assert [row["id"] for row in top[kind]] == _ids(client.get(path, {"q": "momo"}))[:5], kind
    if common:
        assert walks  # the tiers were read in popularity order, from the counts given at once


@pytest.mark.django_db
def test_close_spellings_are_found_whatever_the_visible_rows_index(auth_client, user):
    """The fuzzy candidates come from the trigram index alone, visibility checked after (with the
    visible rows' conditions the planner walked another index: 672 ms on 100,000 reels)."""
    shown = ReelFactory(caption="Pokhara lakeside")
    ReelFactory(caption="Pokhara lakeside", status=Reel.Status.DELETED)

    assert _ids(auth_client(user).get(REELS, {"q": "pokharaa lakesid"})) == [shown.pk]
