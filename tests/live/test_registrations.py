"""What apps above live hand to it at start-up (live never imports them): the chat checks moderation
registers and the gift coins reader PK battles are scored with; and live's services for the gifts app."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from apps.gifts.selectors import stream_gift_coins
from apps.live import chat, pk, services
from apps.live.exceptions import ChatRefused, StreamNotLive
from apps.live.models import LinkCast, PkBattle, Stream
from apps.moderation.services import chat_message_check
from apps.moderation.types import ChatCheck
from tests.live.factories import LiveStreamFactory


def test_the_word_filter_and_the_gift_reader_are_registered_at_start_up():
    assert chat._checkers == [chat_message_check]
    assert pk._gift_coins_reader is stream_gift_coins


def test_registered_checks_run_in_order_and_the_first_refusal_stops_the_message(monkeypatch):
    # given two checks: one masks a word, the next refuses messages that still say "spam"
    monkeypatch.setattr(chat, "_checkers", [])
    seen: list[str] = []

    def mask(*, user_id, stream_id, text):
        seen.append(text)
        return ChatCheck(text=text.replace("darn", "****"), allowed=True, muted_until=None, reason="masked")

    def no_spam(*, user_id, stream_id, text):
        seen.append(text)
        return ChatCheck(text=text, allowed="spam" not in text, muted_until=None, reason="spam")

    services.chat_checker_register(mask)
    services.chat_checker_register(no_spam)
    services.chat_checker_register(mask)  # registering twice changes nothing

    # then a message passes both, masked by the first
    assert chat.chat_text_check(user_id=1, stream_id=2, text="darn it") == "**** it"
    assert seen == ["darn it", "**** it"]
    # and a refusal names its reason
    with pytest.raises(ChatRefused) as refused:
        chat.chat_text_check(user_id=1, stream_id=2, text="buy spam")
    assert refused.value.details == {"reason": "spam", "muted_until": None}


@pytest.mark.django_db
def test_pk_totals_without_a_gift_reader_fail_loudly(monkeypatch):
    monkeypatch.setattr(pk, "_gift_coins_reader", None)
    linkcast = LinkCast.objects.create(host_stream=LiveStreamFactory(), guest_stream=LiveStreamFactory())
    battle = PkBattle(linkcast=linkcast, started_at=timezone.now(), ends_at=timezone.now() + timedelta(minutes=5))

    with pytest.raises(ImproperlyConfigured):
        pk.pk_totals(battle)


def test_the_dead_stream_gift_record_is_gone():
    # It wrote the stream's totals in every gift's transaction: the hot row the ledger avoids.
    assert not hasattr(services, "stream_gift_record")


@pytest.mark.django_db
def test_gift_totals_are_stored_only_when_they_changed():
    stream = LiveStreamFactory()

    assert services.stream_gift_totals_set(totals=[(stream.pk, 120, 7)]) == 1
    assert services.stream_gift_totals_set(totals=[(stream.pk, 120, 7)]) == 0

    stream.refresh_from_db()
    assert (stream.gift_coins_total, stream.gifts_count) == (120, 7)


@pytest.mark.django_db
def test_only_an_ended_stream_can_be_moved_into_the_past():
    live = LiveStreamFactory()
    past = timezone.now() - timedelta(days=3)

    with pytest.raises(StreamNotLive):
        services.stream_backdate(stream_id=live.pk, started_at=past, ended_at=past + timedelta(hours=1))

    services.stream_end(stream_id=live.pk, reason="done")
    services.stream_backdate(stream_id=live.pk, started_at=past, ended_at=past + timedelta(hours=1))
    live.refresh_from_db()
    assert (live.started_at, live.ended_at, live.status) == (past, past + timedelta(hours=1), Stream.Status.ENDED)
