from datetime import timedelta

import pytest
from django.utils import timezone

from apps.moderation import services
from apps.moderation.chatfilter import mask
from apps.moderation.models import BannedWord
from apps.moderation.selectors import moderation_settings_get

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


def test_repeat_offender_is_muted_in_that_room_only():
    # given mutes after 2 offences for 60 s
    _settings(chat_offences_to_mute=2, chat_mute_seconds=60, chat_offence_window_seconds=600)
    # when the user swears twice in room 7
    first = services.chat_message_check(user_id=5, stream_id=7, text="what the fuck")
    second = services.chat_message_check(user_id=5, stream_id=7, text="muji")
    after = services.chat_message_check(user_id=5, stream_id=7, text="sorry")
    elsewhere = services.chat_message_check(user_id=5, stream_id=8, text="hello")
    # then the first is masked, the second mutes, later messages are refused in that room only
    assert first.allowed and first.text == "what the ****" and first.reason == "masked"
    assert not second.allowed and second.reason == "muted"
    assert timezone.now() + timedelta(seconds=55) < second.muted_until <= timezone.now() + timedelta(seconds=60)
    assert not after.allowed and after.text == "sorry" and after.muted_until == second.muted_until
    assert elsewhere.allowed


def test_word_list_cache_is_invalidated_on_admin_save(admin_client):
    # given the cached list is warm and lacks a word
    assert services.chat_message_check(user_id=1, stream_id=1, text="you goofball").text == "you goofball"
    # when a moderator adds it in the admin
    response = admin_client.post(
        "/admin/moderation/bannedword/add/", {"term": "Goofball", "language": "en", "is_active": "on"}
    )
    assert response.status_code == 302
    # then the next check masks it
    assert services.chat_message_check(user_id=1, stream_id=1, text="you goofball").text == "you ********"
