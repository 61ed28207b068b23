"""The own profile (me), public profiles, follows, blocks and their lists."""

import io
import random
from datetime import date, timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from apps.accounts import services
from apps.accounts.models import Block, Follow, User
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error, assert_nothing_written, db_snapshot
from tests.media import fetch, stored_names

ME = "/api/v1/me/"


def profile_url(user: User, suffix: str = "") -> str:
    return f"/api/v1/users/{user.username}/{suffix}"


def png(size: tuple[int, int] = (64, 64), *, noise: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 30, 60))
    if noise:  # random pixels do not compress: a big file
        rng = random.Random(7)
        image = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def media(isolated_media):
    return default_storage


# --- Me ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_me_reads_the_own_profile(user, auth_client):
    response = auth_client(user).get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user.pk and body["username"] == user.username and body["email"] == user.email
    assert body["age"] == user.age and body["is_adult"] is True
    assert "password" not in body


@pytest.mark.django_db
def test_me_edit_changes_only_what_was_sent(user, auth_client):
    # given a user with a bio
    user.bio = "old bio"
    user.save()

    # when they change their display name and country
    response = auth_client(user).patch(ME, {"display_name": "Sita ✨", "country": "IN"}, format="json")

    # then those change and the rest stays
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert (user.display_name, user.country, user.bio) == ("Sita ✨", "IN", "old bio")
    assert response.json()["display_name"] == "Sita ✨"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field,value",
    [
        ("username", "newname"),
        ("is_staff", True),
        ("is_superuser", True),
        ("banned_until", None),
        ("age_verification", "verified"),
        ("id", 1),
        ("password", "whatever-whatever-1"),
    ],
)
def test_me_edit_cannot_touch_fields_outside_the_profile(user, auth_client, field, value):
    client = auth_client(user)
    before = db_snapshot()
    response = client.patch(ME, {field: value}, format="json")
    body = assert_error(response, 400, "invalid")
    assert body["details"] == {field: ["Unknown field."]}
    assert_nothing_written(before)


@pytest.mark.django_db
def test_there_is_no_way_to_edit_someone_else(user, other_user, auth_client):
    # given another user's public profile URL
    client = auth_client(user)
    before = db_snapshot()

    # when I try to write to it with every method
    responses = [
        client.patch(profile_url(other_user), {"display_name": "hacked"}, format="json"),
        client.put(profile_url(other_user), {"display_name": "hacked"}, format="json"),
        client.post(profile_url(other_user), {"display_name": "hacked"}, format="json"),
        client.delete(profile_url(other_user)),
    ]

    # then each is refused with the error shape and nothing changes
    for response in responses:
        assert_error(response, 405, "method_not_allowed")
    assert_nothing_written(before)
    other_user.refresh_from_db()
    assert other_user.display_name != "hacked"


@pytest.mark.django_db
def test_date_of_birth_can_be_set_once(auth_client):
    # given a user without a date of birth
    user = UserFactory(date_of_birth=None)
    client = auth_client(user)

    # when they set it, then try to change it
    first = client.patch(ME, {"date_of_birth": "2000-02-29"}, format="json")
    before = db_snapshot()
    change = client.patch(ME, {"date_of_birth": "1990-01-01"}, format="json")
    same = client.patch(ME, {"date_of_birth": "2000-02-29"}, format="json")

    # then the first sticks, a change is refused, repeating the same value is harmless
    assert first.status_code == 200 and first.json()["date_of_birth"] == "2000-02-29"
    assert "date_of_birth" in assert_error(change, 400, "invalid")["details"]
    assert same.status_code == 200
    assert_nothing_written(before)
    user.refresh_from_db()
    assert user.date_of_birth == date(2000, 2, 29)


@pytest.mark.django_db
def test_date_of_birth_under_the_signup_age_or_in_the_future_is_refused(auth_client):
    user = UserFactory(date_of_birth=None)
    client = auth_client(user)
    before = db_snapshot()
    today = timezone.localdate()
    for value in (today - timedelta(days=365 * 5), today + timedelta(days=1)):
        assert (
            "date_of_birth"
            in assert_error(client.patch(ME, {"date_of_birth": str(value)}, format="json"), 400, "invalid")["details"]
        )
    assert_nothing_written(before)


@pytest.mark.django_db
def test_email_and_phone_edits_keep_them_unique_and_one_of_them_present(auth_client):
    UserFactory(email="taken@example.com", phone="+9779800000009")
    user = UserFactory(email="me@example.com", phone=None)
    client = auth_client(user)
    before = db_snapshot()

    taken_email = client.patch(ME, {"email": "TAKEN@example.com"}, format="json")
    taken_phone = client.patch(ME, {"phone": "+9779800000009"}, format="json")
    nothing_left = client.patch(ME, {"email": ""}, format="json")

    assert "email" in assert_error(taken_email, 400, "invalid")["details"]
    assert "phone" in assert_error(taken_phone, 400, "invalid")["details"]
    assert "email" in assert_error(nothing_left, 400, "invalid")["details"]
    assert_nothing_written(before)
    # swapping email for phone in one request is fine
    swapped = client.patch(ME, {"email": "", "phone": "+9779811111111"}, format="json")
    assert swapped.status_code == 200, swapped.json()
    user.refresh_from_db()
    assert (user.email, user.phone) == (None, "+9779811111111")


@pytest.mark.django_db
def test_avatar_upload_stores_an_image_and_null_clears_it(user, auth_client, media):
    client = auth_client(user)
    response = client.patch(ME, {"avatar": SimpleUploadedFile("me.png", png(), "image/png")}, format="multipart")
    assert response.status_code == 200, response.json()
    user.refresh_from_db()
    assert user.avatar.name.startswith("avatars/") and media.exists(user.avatar.name)
    assert response.json()["avatar"].endswith(user.avatar.name)
    assert fetch(response.json()["avatar"]) == (200, png())  # public media: anyone can fetch it

    cleared = client.patch(ME, {"avatar": None}, format="json")
    assert cleared.status_code == 200, cleared.json()
    assert cleared.json()["avatar"] is None
    user.refresh_from_db()
    assert not user.avatar


@pytest.mark.django_db
@pytest.mark.parametrize(
    "upload",
    [
        lambda: SimpleUploadedFile("me.png", b"this is not an image at all", "image/png"),
        lambda: SimpleUploadedFile("me.png", png((900, 900), noise=True), "image/png"),
        lambda: SimpleUploadedFile("me.png", b"", "image/png"),
    ],
    ids=["not-an-image", "too-big", "empty"],
)
def test_avatar_upload_refuses_what_is_not_a_small_image(user, auth_client, media, upload):
    file, client = upload(), auth_client(user)
    before = db_snapshot()
    response = client.patch(ME, {"avatar": file}, format="multipart")
    assert "avatar" in assert_error(response, 400, "invalid")["details"]
    assert_nothing_written(before)
    assert stored_names(media) == []


# --- Public profiles and follows --------------------------------------------------------------


@pytest.mark.django_db
def test_public_profile_shows_counts_and_whether_i_follow(user, other_user, auth_client):
    # given other_user followed by me and two more, and following one
    third, fourth = UserFactory(), UserFactory()
    for follower in (user, third, fourth):
        services.follow_create(follower=follower, followee=other_user)
    services.follow_create(follower=other_user, followee=third)

    mine = auth_client(user).get(profile_url(other_user))
    theirs = auth_client(third).get(profile_url(user))

    assert mine.status_code == 200
    body = mine.json()
    assert (body["followers_count"], body["following_count"], body["is_following"]) == (3, 1, True)
    assert "email" not in body and "phone" not in body and "date_of_birth" not in body
    assert theirs.json()["is_following"] is False and theirs.json()["followers_count"] == 0


@pytest.mark.django_db
def test_follow_and_unfollow_are_idempotent(user, other_user, auth_client):
    client = auth_client(user)

    assert client.post(profile_url(other_user, "follow/")).status_code == 204
    assert client.post(profile_url(other_user, "follow/")).status_code == 204
    assert Follow.objects.filter(follower=user, followee=other_user).count() == 1
    assert client.get(profile_url(other_user)).json()["followers_count"] == 1

    assert client.delete(profile_url(other_user, "follow/")).status_code == 204
    assert client.delete(profile_url(other_user, "follow/")).status_code == 204
    assert not Follow.objects.exists()


@pytest.mark.django_db
def test_cannot_follow_or_block_yourself_or_someone_unknown(user, auth_client):
    client = auth_client(user)
    before = db_snapshot()
    assert_error(client.post(profile_url(user, "follow/")), 400, "cannot_follow_self")
    assert_error(client.post(profile_url(user, "block/")), 400, "cannot_block_self")
    assert_error(client.post("/api/v1/users/no_such_user/follow/"), 404, "not_found")
    assert_error(client.post("/api/v1/users/no_such_user/block/"), 404, "not_found")
    assert_nothing_written(before)


@pytest.mark.django_db
def test_block_removes_follows_both_ways_and_hides_the_pair_from_each_other(user, other_user, auth_client):
    # given two users following each other
    services.follow_create(follower=user, followee=other_user)
    services.follow_create(follower=other_user, followee=user)
    me, them = auth_client(user), auth_client(other_user)

    # when I block them (twice: idempotent)
    assert me.post(profile_url(other_user, "block/")).status_code == 204
    assert me.post(profile_url(other_user, "block/")).status_code == 204

    # then no follow is left, they cannot follow me again and we see each other as absent
    assert not Follow.objects.exists()
    assert Block.objects.filter(blocker=user, blocked=other_user).count() == 1
    before = db_snapshot()
    assert_error(them.post(profile_url(user, "follow/")), 403, "user_blocked")
    assert_error(me.post(profile_url(other_user, "follow/")), 403, "user_blocked")
    assert_nothing_written(before)
    for client, target in ((them, user), (me, other_user)):
        assert_error(client.get(profile_url(target)), 404, "not_found")
        assert_error(client.get(profile_url(target, "followers/")), 404, "not_found")
        assert_error(client.get(profile_url(target, "following/")), 404, "not_found")


@pytest.mark.django_db
def test_unblock_restores_visibility_and_following(user, other_user, auth_client):
    services.block_create(blocker=user, blocked=other_user)
    me, them = auth_client(user), auth_client(other_user)

    assert me.delete(profile_url(other_user, "block/")).status_code == 204
    assert me.delete(profile_url(other_user, "block/")).status_code == 204  # idempotent

    assert not Block.objects.exists()
    assert them.get(profile_url(user)).status_code == 200
    assert them.post(profile_url(user, "follow/")).status_code == 204


@pytest.mark.django_db
def test_the_blocked_can_still_block_back_and_only_the_blocker_can_lift_a_block(user, other_user, auth_client):
    services.block_create(blocker=user, blocked=other_user)
    them = auth_client(other_user)

    assert them.post(profile_url(user, "block/")).status_code == 204
    assert them.delete(profile_url(user, "block/")).status_code == 204  # lifts only their own block

    assert list(Block.objects.values_list("blocker_id", "blocked_id")) == [(user.pk, other_user.pk)]
    assert_error(them.get(profile_url(user)), 404, "not_found")


@pytest.mark.django_db
def test_public_profile_of_a_deactivated_user_is_404(user, auth_client):
    gone = UserFactory(is_active=False)
    assert_error(auth_client(user).get(profile_url(gone)), 404, "not_found")


@pytest.mark.django_db
def test_profiles_need_authentication(user):
    from rest_framework.test import APIClient

    client = APIClient()
    for url in (ME, profile_url(user), profile_url(user, "followers/"), "/api/v1/me/blocked/"):
        assert_error(client.get(url), 401, "not_authenticated")
    assert_error(client.post(profile_url(user, "follow/")), 401, "not_authenticated")


# --- Lists ------------------------------------------------------------------------------------


def _walk(client, url: str) -> list[list[str]]:
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        body = response.json()
        pages.append([row["username"] for row in body["results"]])
        url = body["next"]
    return pages


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 25])
def test_followers_list_is_cursor_paginated_with_a_fixed_number_of_queries(
    user, auth_client, django_assert_num_queries, count
):
    # given `count` followers, the newest last
    followers = UserFactory.create_batch(count)
    for follower in followers:
        services.follow_create(follower=follower, followee=user)
    client = auth_client(UserFactory())

    # when the first page is read: user, target, block check, page
    with django_assert_num_queries(4):
        response = client.get(profile_url(user, "followers/"))

    # then it is newest first, 20 a page, and the cursor walks all of them once
    assert response.status_code == 200
    first = response.json()
    assert set(first["results"][0]) == {"id", "username", "display_name", "avatar"}
    pages = _walk(client, profile_url(user, "followers/"))
    assert [name for page in pages for name in page] == [f.username for f in reversed(followers)]
    assert [len(page) for page in pages] == ([20, 5] if count == 25 else [3])


@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 22])
def test_following_list_is_cursor_paginated_with_a_fixed_number_of_queries(
    user, auth_client, django_assert_num_queries, count
):
    followees = UserFactory.create_batch(count)
    for followee in followees:
        services.follow_create(follower=user, followee=followee)
    client = auth_client(user)

    with django_assert_num_queries(4):
        response = client.get(profile_url(user, "following/") + "?page_size=5")

    assert [row["username"] for row in response.json()["results"]] == [f.username for f in reversed(followees)][:5]
    pages = _walk(client, profile_url(user, "following/") + "?page_size=5")
    assert sum(len(page) for page in pages) == count


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 21])
def test_blocked_list_is_mine_only_and_paginated(user, auth_client, django_assert_num_queries, count):
    blocked = UserFactory.create_batch(count)
    for other in blocked:
        services.block_create(blocker=user, blocked=other)
    services.block_create(blocker=UserFactory(), blocked=user)  # someone blocking me is not in my list
    client = auth_client(user)

    with django_assert_num_queries(2):  # user, page
        response = client.get("/api/v1/me/blocked/")

    assert response.status_code == 200
    pages = _walk(client, "/api/v1/me/blocked/")
    assert [name for page in pages for name in page] == [b.username for b in reversed(blocked)]


@pytest.mark.django_db
def test_a_list_with_a_forged_cursor_is_an_error_in_the_shape(user, auth_client):
    response = auth_client(user).get(profile_url(user, "followers/") + "?cursor=%25%25%25not-base64")
    assert_error(response, 404, "not_found")
