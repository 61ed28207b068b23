"""A host's own banned words: a list of up to MODERATION_HOST_WORDS_MAX, masked in the host's rooms
together with the platform's list."""

import pytest
from django.test import override_settings

from apps.moderation import services
from apps.moderation.models import BannedWord, HostBannedWord
from apps.moderation.selectors import moderation_settings_get
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory

URL = "/api/v1/moderation/host-words/"


def add(host, term: str) -> HostBannedWord:
    word, _ = services.host_word_add(host=host, term=term)
    return word


# --- The list -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_host_adds_lists_renames_and_deletes_words(auth_client):
    host = UserFactory()
    client = auth_client(host)

    # when the host adds a word, then the same word in other letters and spacing
    first = client.post(URL, {"term": "  Bhalu  "}, format="json")
    same = client.post(URL, {"term": "BHALU"}, format="json")
    second = client.post(URL, {"term": "gadha   ko"}, format="json")

    # then it is one word, stored trimmed, and the second has its spaces collapsed
    assert first.status_code == 201, first.content
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    assert first.json()["term"] == "Bhalu"
    assert second.json()["term"] == "gadha ko"
    listed = client.get(URL)
    assert listed.status_code == 200
    assert {row["term"] for row in listed.json()["results"]} == {"Bhalu", "gadha ko"}

    # when it renames one, then renames it onto the other
    renamed = client.patch(f"{URL}{first.json()['id']}/", {"term": "bandar"}, format="json")
    clash = client.patch(f"{URL}{first.json()['id']}/", {"term": "GADHA KO"}, format="json")

    # then the first works and the second is a clear 409 that changes nothing
    assert renamed.status_code == 200 and renamed.json()["term"] == "bandar"
    assert (clash.status_code, clash.json()["code"]) == (409, "host_word_exists")
    assert HostBannedWord.objects.get(pk=first.json()["id"]).term == "bandar"

    # when it deletes one
    assert client.delete(f"{URL}{second.json()['id']}/").status_code == 204
    assert list(HostBannedWord.objects.values_list("term", flat=True)) == ["bandar"]


@pytest.mark.django_db
def test_a_host_never_sees_or_changes_another_hosts_words(auth_client):
    owner, other = UserFactory(), UserFactory()
    word = add(owner, "bhalu")
    client = auth_client(other)

    assert client.get(URL).json()["results"] == []
    patched = client.patch(f"{URL}{word.pk}/", {"term": "x"}, format="json")
    deleted = client.delete(f"{URL}{word.pk}/")

    assert (patched.status_code, patched.json()["code"]) == (404, "not_found")
    assert (deleted.status_code, deleted.json()["code"]) == (404, "not_found")
    assert HostBannedWord.objects.get(pk=word.pk).term == "bhalu"


@pytest.mark.django_db
def test_bad_input_and_anonymous_calls_are_refused(auth_client, api_client):
    client = auth_client(UserFactory())
    blank = client.post(URL, {"term": "   "}, format="json")
    too_long = client.post(URL, {"term": "x" * 101}, format="json")
    unknown = client.post(URL, {"term": "ok", "language": "en"}, format="json")
    assert [r.status_code for r in (blank, too_long, unknown)] == [400, 400, 400]
    assert blank.json()["code"] == "invalid"
    assert not HostBannedWord.objects.exists()
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"term": "bhalu"}, format="json").status_code == 401


@pytest.mark.django_db
def test_the_two_hundred_and_first_word_is_refused_with_a_clear_code(auth_client):
    # given a host with a full list
    host = UserFactory()
    HostBannedWord.objects.bulk_create(HostBannedWord(host=host, term=f"word{i}") for i in range(200))

    # when they add one more
    response = auth_client(host).post(URL, {"term": "one too many"}, format="json")

    # then 409 host_word_limit and the list is unchanged; a word already there still answers 200
    assert response.status_code == 409
    assert response.json()["code"] == "host_word_limit" and response.json()["details"] == {"max": 200}
    assert HostBannedWord.objects.filter(host=host).count() == 200
    assert auth_client(host).post(URL, {"term": "WORD7"}, format="json").status_code == 200


@pytest.mark.django_db(transaction=True)
@override_settings(MODERATION_HOST_WORDS_MAX=3)
def test_concurrent_additions_never_pass_the_limit(race):
    host = UserFactory()
    add(host, "one")
    add(host, "two")
    results = race([lambda t=t: services.host_word_add(host=host, term=t) for t in ("a", "b", "c", "d")])
    assert sum(isinstance(r, tuple) for r in results) == 1, results
    assert HostBannedWord.objects.filter(host=host).count() == 3


# --- Applied in the host's rooms ------------------------------------------------------------------


@pytest.mark.django_db
def test_host_words_are_masked_in_the_hosts_rooms_with_the_platform_list(django_capture_on_commit_callbacks):
    # given a platform word, and host A's own word
    BannedWord.objects.create(term="platformbad")
    services.banned_words_cache_clear()
    stream_a, stream_b = LiveStreamFactory(), LiveStreamFactory()
    viewer = UserFactory()
    check = services.chat_message_check(user_id=viewer.pk, stream_id=stream_a.pk, text="you bhalu")
    assert check.text == "you bhalu"  # not banned yet (and now cached)
    with django_capture_on_commit_callbacks(execute=True):
        add(stream_a.host, "Bhalu")

    # when a viewer writes both words in A's room and in B's room
    in_a = services.chat_message_check(user_id=viewer.pk, stream_id=stream_a.pk, text="you BHALU, platformbad")
    in_b = services.chat_message_check(user_id=viewer.pk, stream_id=stream_b.pk, text="you BHALU, platformbad")

    # then A masks both at once (the cached list was cleared), B only the platform's
    assert in_a.text == "you *****, ***********" and in_a.reason == "masked"
    assert in_b.text == "you BHALU, ***********"

    # and once A deletes the word, it passes in A's room again
    with django_capture_on_commit_callbacks(execute=True):
        services.host_word_delete(host=stream_a.host, word_id=HostBannedWord.objects.get().pk)
    again = services.chat_message_check(user_id=viewer.pk, stream_id=stream_a.pk, text="bhalu")
    assert again.text == "bhalu" and again.reason == ""


@pytest.mark.django_db
def test_host_words_count_towards_muting_a_repeat_offender():
    # given a host word and the platform's mute after 2 offences
    row = moderation_settings_get()
    row.chat_offences_to_mute = 2
    row.save()
    services.moderation_settings_cache_clear()
    stream, viewer = LiveStreamFactory(), UserFactory()
    add(stream.host, "bhalu")

    # when a viewer uses it twice
    first = services.chat_message_check(user_id=viewer.pk, stream_id=stream.pk, text="bhalu")
    second = services.chat_message_check(user_id=viewer.pk, stream_id=stream.pk, text="bhalu again")

    # then the second mutes them in that room
    assert first.allowed and first.reason == "masked"
    assert not second.allowed and second.reason == "muted" and second.muted_until is not None


@pytest.mark.django_db
def test_reel_comments_outside_any_room_use_the_platform_list_only():
    host = UserFactory()
    add(host, "bhalu")
    check = services.chat_message_check(user_id=host.pk, stream_id=0, text="bhalu")
    assert check.text == "bhalu" and check.allowed


@pytest.mark.django_db
def test_staff_see_host_words_in_the_admin_but_cannot_edit_them(admin_client):
    add(UserFactory(username="hosthari"), "bhalu")
    page = admin_client.get("/admin/moderation/hostbannedword/")
    assert page.status_code == 200
    assert "bhalu" in page.content.decode() and "hosthari" in page.content.decode()
    assert admin_client.get("/admin/moderation/hostbannedword/add/").status_code == 403
