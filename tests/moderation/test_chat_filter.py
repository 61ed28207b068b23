import time
from datetime import timedelta

import pytest
import redis
from django.core.cache import cache
from django.utils import timezone

from apps.moderation import services
from apps.moderation.chatfilter import mask
from apps.moderation.models import BannedWord, Enforcement
from apps.moderation.selectors import moderation_settings_get
from tests.live.factories import LiveStreamFactory

pytestmark = pytest.mark.django_db


def _settings(**values):
    row = moderation_settings_get()
    for k, v in values.items():
        setattr(row, k, v)
    row.save()
    services.moderation_settings_cache_clear()


def test_masks_whole_words_case_insensitively():
    # given a list with an English word
    terms = ("shit",)
    # when messages contain it in different cases and inside other words
    text, hits = mask("SHIT happens, Shit! but shitake is a mushroom", terms)
    # then only whole words are masked
    assert text == "**** happens, ****! but shitake is a mushroom"
    assert hits == 2


def test_masks_devanagari_without_breaking_on_vowel_signs():
    # given a Nepali term whose letters carry vowel signs (Unicode Mn/Mc marks)
    terms = ("मुजी",)
    # when it stands alone, and when it is only the start of a longer word
    alone, hits_alone = mask("तँ मुजी हो", terms)
    longer, hits_longer = mask("मुजीहरू", terms)
    # then the word is masked alone, but not as part of another word
    assert alone == "तँ **** हो" and hits_alone == 1
    assert longer == "मुजीहरू" and hits_longer == 0


def test_masks_romanised_phrases_across_spacing():
    text, hits = mask("timi kukur  ko CHHORA hau", ("kukur ko chhora",))
    assert text == "timi *****  ** ****** hau"
    assert hits == 1


def test_clean_message_passes_untouched():
    check = services.chat_message_check(user_id=1, stream_id=1, text="Namaste sathi haru!")
    assert check.allowed and check.text == "Namaste sathi haru!" and check.reason == "" and check.muted_until is None


def test_seeded_list_covers_three_languages():
    languages = set(BannedWord.objects.values_list("language", flat=True))
    assert languages == {"en", "ne", "ne-latn"}


def test_repeat_offender_is_muted_in_that_room_only(user):
    # given mutes after 2 offences for 60 s, and two rooms
    _settings(chat_offences_to_mute=2, chat_mute_seconds=60, chat_offence_window_seconds=600)
    room, other_room = LiveStreamFactory(), LiveStreamFactory()
    # when the user swears twice in one room
    first = services.chat_message_check(user_id=user.pk, stream_id=room.pk, text="what the fuck")
    second = services.chat_message_check(user_id=user.pk, stream_id=room.pk, text="muji")
    after = services.chat_message_check(user_id=user.pk, stream_id=room.pk, text="sorry")
    elsewhere = services.chat_message_check(user_id=user.pk, stream_id=other_room.pk, text="hello")
    # then the first is masked, the second mutes, later messages are refused in that room only
    assert first.allowed and first.text == "what the ****" and first.reason == "masked"
    assert not second.allowed and second.reason == "muted"
    assert timezone.now() + timedelta(seconds=55) < second.muted_until <= timezone.now() + timedelta(seconds=60)
    assert not after.allowed and after.text == "sorry" and after.muted_until == second.muted_until
    assert elsewhere.allowed
    # and the mute is explained to the user, quoting the message
    mute = Enforcement.objects.get(user=user)
    assert mute.kind == Enforcement.Kind.CHAT_MUTE and mute.message_text == "muji" and mute.stream_id == room.pk


def test_offences_expire_with_the_window(user):
    # given a window of 1 second
    _settings(chat_offences_to_mute=2, chat_offence_window_seconds=1)
    services.chat_message_check(user_id=user.pk, stream_id=1, text="shit")
    # when the next offence comes after the window
    time.sleep(1.2)
    check = services.chat_message_check(user_id=user.pk, stream_id=1, text="shit")
    # then it counts as a first offence again
    assert check.allowed and check.reason == "masked"


def test_an_offence_counter_never_outlives_its_window(user, settings):
    # given an offence counter with no expiry, as "add with a timeout, then incr" left one when the key
    # expired between the two calls (Redis's INCR then creates a counter that never expires)
    _settings(chat_offences_to_mute=5, chat_offence_window_seconds=600)
    room = LiveStreamFactory()
    key = services.CHAT_OFFENCES_KEY.format(stream_id=room.pk, user_id=user.pk)
    cache.set(key, 1, timeout=None)

    # when the user offends again
    check = services.chat_message_check(user_id=user.pk, stream_id=room.pk, text="muji")

    # then that offence counts, and the counter now ends with the window
    assert check.reason == "masked" and cache.get(key) == 2
    assert 0 < redis.Redis.from_url(settings.REDIS_URL).ttl(cache.make_key(key)) <= 600


def test_mute_ends_after_the_configured_time(user):
    _settings(chat_offences_to_mute=1, chat_mute_seconds=1)
    assert not services.chat_message_check(user_id=user.pk, stream_id=2, text="bitch").allowed
    time.sleep(1.2)
    assert services.chat_message_check(user_id=user.pk, stream_id=2, text="hi").allowed


def test_word_list_cache_is_invalidated_on_admin_save(admin_client):
    # given the cached list is warm and lacks a word
    assert services.chat_message_check(user_id=1, stream_id=1, text="you goofball").text == "you goofball"
    # when a moderator adds it in the admin
    response = admin_client.post(
        "/admin/moderation/bannedword/add/",
        {"term": "Goofball", "language": "en", "severity": 80, "is_active": "on"},
    )
    assert response.status_code == 302
    # then the next check masks it
    assert services.chat_message_check(user_id=1, stream_id=1, text="you goofball").text == "you ********"
