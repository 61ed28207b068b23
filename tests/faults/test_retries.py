"""A retried request whose first attempt went through unseen (the fault suite's clients retry with the
same Idempotency-Key after a reset or a timeout) must get that first answer back, whatever changed
since: the app treats any refusal as final, so a refusal here would hide coins that did move."""

import pytest

from apps.gifts.models import GiftSend
from apps.live.services import stream_end
from apps.wallet.selectors import coins_balance, ledger_audit
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund

pytestmark = pytest.mark.django_db


def _send(client, stream, gift, key: str):
    body = {"stream": stream.pk, "gift": gift.pk, "quantity": 1}
    return client.post("/api/v1/gifts/send/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def sent(auth_client):
    """A sender whose coins covered exactly one gift, and that gift's send (its answer lost on the way)."""
    stream, gift, sender = LiveStreamFactory(), GiftFactory(coin_price=20), UserFactory()
    fund(sender, 20)
    client = auth_client(sender)
    first = _send(client, stream, gift, "tap-1")
    assert first.status_code == 201, first.json()
    return client, stream, gift, sender, first.json()


def test_a_retried_send_is_answered_with_the_first_even_when_the_coins_have_run_out(sent):
    # given a send that spent the sender's last coins
    client, stream, gift, sender, first = sent

    # when the app retries it with the same Idempotency-Key
    again = _send(client, stream, gift, "tap-1")

    # then it gets the first send back, not insufficient_coins, and nothing more was paid
    assert again.status_code == 201, again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first["id"]
    assert GiftSend.objects.filter(sender=sender).count() == 1
    assert coins_balance(user_id=sender.pk) == 0
    assert ledger_audit() == []


def test_a_retried_send_is_answered_with_the_first_even_when_the_stream_has_ended(sent):
    # given a send, then the stream ended
    client, stream, gift, sender, first = sent
    stream_end(stream_id=stream.pk)

    # when the app retries it with the same Idempotency-Key
    again = _send(client, stream, gift, "tap-1")

    # then it gets the first send back, not stream_not_live
    assert again.status_code == 201, again.json()
    assert again.json()["id"] == first["id"]
    assert GiftSend.objects.filter(sender=sender).count() == 1


def test_a_new_key_after_the_coins_ran_out_is_still_refused(sent):
    # given a send that spent the sender's last coins
    client, stream, gift, sender, _ = sent

    # when the sender sends again with a new Idempotency-Key
    another = _send(client, stream, gift, "tap-2")

    # then it is refused and nothing is written
    assert another.status_code == 409
    assert another.json()["code"] == "insufficient_coins"
    assert GiftSend.objects.filter(sender=sender).count() == 1
