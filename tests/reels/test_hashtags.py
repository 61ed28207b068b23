"""Hashtags: read from the caption on upload and on edit (Devanagari whole), shown on each reel,
counted, and listed per tag."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.services import block_create
from apps.reels.hashtags import hashtag_normalise, hashtags_extract
from apps.reels.models import Hashtag, Reel, ReelHashtag
from apps.reels.services import _hashtags_set
from tests.accounts.factories import UserFactory
from tests.moderation.factories import banned_word
from tests.reels.factories import ReelFactory


def tagged(caption: str, **kwargs) -> Reel:
    reel = ReelFactory(caption=caption, **kwargs)
    _hashtags_set(reel)
    return reel


# --- Extraction --------------------------------------------------------------------------------


def test_devanagari_tags_are_captured_whole_with_their_vowel_signs_and_viramas():
    # न म स ् त े: the virama and the vowel sign are combining marks (Mn), which \w does not match
    assert hashtags_extract("शुभ बिहानी #नमस्ते साथीहरू") == ["नमस्ते"]
    assert hashtags_extract("#क्षत्रिय #ज्ञान #दशैं #तिहार२०८१") == ["क्षत्रिय", "ज्ञान", "दशैं", "तिहार२०८१"]


def test_tags_are_normalised_ordered_and_each_kept_once():
    assert hashtags_extract("#Dashain vibes #DASHAIN #momo_lover, #nepal!") == ["dashain", "momo_lover", "nepal"]


def test_what_is_not_a_tag():
    # inside a word or a URL, only digits, a lone #, or a tag the word filter masked
    assert hashtags_extract("a#b https://x.np/#top #2026 # #f*** ##") == []


def test_a_caption_with_many_tags_keeps_the_first_thirty():
    assert len(hashtags_extract(" ".join(f"#t{i}" for i in range(40)))) == 30


def test_normalising_a_typed_tag():
    assert hashtag_normalise("#Namaste") == "namaste"
    assert hashtag_normalise("नमस्ते") == "नमस्ते"
    assert hashtag_normalise("two words") == ""
    assert hashtag_normalise("x" * 51) == ""


# --- Upload, edit, serializer ------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytest.mark.django_db
def test_an_upload_stores_its_caption_tags_and_shows_them(auth_client, user, clip, media):
    path = clip(2.0)
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="video/mp4")
    response = auth_client(user).post(
        "/api/v1/reels/", {"video": upload, "caption": "Tihar lights #तिहार #Nepal"}, format="multipart"
    )
    assert response.status_code == 202, response.content
    assert response.json()["hashtags"] == ["तिहार", "nepal"]
    reel = Reel.objects.get()
    assert sorted(reel.hashtags.values_list("tag", flat=True)) == ["nepal", "तिहार"]


@pytest.mark.django_db
def test_editing_the_caption_moves_the_tags(auth_client):
    author = UserFactory()
    reel = tagged("#momo #chiya", author=author)
    other = tagged("#momo")

    response = auth_client(author).patch(f"/api/v1/reels/{reel.pk}/", {"caption": "#chiya #दाल"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["hashtags"] == ["chiya", "दाल"]
    assert set(ReelHashtag.objects.filter(reel=reel).values_list("hashtag__tag", flat=True)) == {"chiya", "दाल"}
    assert ReelHashtag.objects.filter(reel=other, hashtag__tag="momo").exists()


@pytest.mark.django_db
def test_an_edited_caption_has_its_banned_words_masked(auth_client):
    banned_word("shit", severity=70, inside_words=True)
    author = UserFactory()
    reel = tagged("", author=author)
    response = auth_client(author).patch(f"/api/v1/reels/{reel.pk}/", {"caption": "#shit happens #ok"}, format="json")
    assert response.status_code == 200
    assert response.json()["hashtags"] == ["ok"]


@pytest.mark.django_db
def test_only_the_author_edits_a_caption(auth_client):
    reel = tagged("#mine")
    response = auth_client(UserFactory()).patch(f"/api/v1/reels/{reel.pk}/", {"caption": "#yours"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "reel_not_found"
    reel.refresh_from_db()
    assert reel.caption == "#mine"
    assert not Hashtag.objects.filter(tag="yours").exists()


# --- Listing ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tag_lists_its_visible_reels_newest_first_paginated_with_a_count(auth_client):
    reader = UserFactory()
    reels = [tagged(f"day {i} #नमस्ते") for i in range(5)]
    tagged("#other")
    tagged("#नमस्ते", status=Reel.Status.REJECTED)  # taken down
    tagged("#नमस्ते", status=Reel.Status.DELETED)
    blocked = tagged("#नमस्ते")
    block_create(blocker=reader, blocked=blocked.author)
    client = auth_client(reader)

    summary = client.get("/api/v1/reels/hashtags/%23नमस्ते/")
    assert summary.status_code == 200
    assert summary.json() == {"tag": "नमस्ते", "reels_count": 5}

    first = client.get("/api/v1/reels/hashtags/नमस्ते/reels/", {"page_size": 3}).json()
    second = client.get(first["next"]).json()
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert ids == [r.pk for r in reversed(reels)] and second["next"] is None
    assert first["results"][0]["hashtags"] == ["नमस्ते"]


@pytest.mark.django_db
def test_a_tag_is_found_in_any_case_and_an_unknown_one_is_a_404(auth_client):
    tagged("#Dashain")
    client = auth_client(UserFactory())
    assert client.get("/api/v1/reels/hashtags/DASHAIN/").json()["reels_count"] == 1
    for path in ("/api/v1/reels/hashtags/tihar/", "/api/v1/reels/hashtags/tihar/reels/"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["code"] == "hashtag_not_found"


@pytest.mark.django_db
def test_the_tags_of_a_page_cost_one_query(auth_client, django_assert_num_queries):
    for i in range(6):
        tagged(f"#a{i} #b{i} #c")
    client = auth_client(UserFactory())
    client.get("/api/v1/reels/hashtags/c/reels/")
    # the tag, blocks, the page, likes, hashtags (authentication reads no row)
    with django_assert_num_queries(6):
        body = client.get("/api/v1/reels/hashtags/c/reels/").json()
    assert all(len(r["hashtags"]) == 3 for r in body["results"])
