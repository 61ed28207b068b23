"""The one-statement send on PostgreSQL: it is really taken, it records exactly what the step-by-step
path records, and retries, reused keys and age boundaries behave the same on both."""

import uuid
from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.exceptions import AgeRestricted
from apps.accounts.models import adult_born_by, age_on
from apps.gifts import services
from apps.gifts.exceptions import GiftNeedsOg
from apps.gifts.models import GiftSend
from apps.wallet.models import JournalEntry, Posting
from apps.wallet.selectors import coins_balance, spending_controls_get
from tests.accounts.factories import UserFactory
from tests.gifts.conftest import assert_ledger_sound
from tests.gifts.factories import GiftFactory
from tests.wallet.factories import fund


def _send(sender, stream, gift, quantity=1, ref=None):
    return services.gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=quantity, ref=ref)


def _postings(send: GiftSend) -> list[tuple[int, int, bool]]:
    return sorted(Posting.objects.filter(entry_id=send.entry_id).values_list("account_id", "amount", "applied"))


@pytest.mark.django_db(transaction=True)
def test_a_send_outside_a_transaction_is_one_statement(sender, stream, gift, django_assert_num_queries):
    _send(sender, stream, gift)  # the host's first gift creates their earnings account (checked path)

    with django_assert_num_queries(1):
        sent = _send(sender, stream, gift, quantity=2)

    assert sent.send.pk and sent.balance == 1_000 - 20 - 40 == sent.send.balance_after
    assert_ledger_sound()


def test_the_statement_moves_the_spending_tally(sender, stream, gift):
    _send(sender, stream, gift)  # the first send creates the controls row (checked path)
    _send(sender, stream, gift, quantity=2)  # the statement
    assert spending_controls_get(user_id=sender.pk).spent_day == 60


@pytest.mark.django_db(transaction=True)
def test_the_statement_records_what_the_checked_path_records(sender, stream, gift, settings):
    settings.GIFT_HOST_SHARE_PERCENT = 55
    fast = _send(sender, stream, gift, quantity=3)  # creates the accounts on its way (checked), then:
    fast = _send(sender, stream, gift, quantity=3)
    checked = services._gift_send_checked(
        sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=3, ref=uuid.uuid4().hex
    )

    def fields(send: GiftSend) -> dict:
        row = GiftSend.objects.filter(pk=send.pk).values().get()
        return {k: v for k, v in row.items() if k not in {"id", "entry_id", "created_at", "balance_after"}}

    assert fields(fast.send) == fields(checked.send)
    assert [(a, m) for a, m, _ in _postings(fast.send)] == [(a, m) for a, m, _ in _postings(checked.send)]
    assert _postings(fast.send) == _postings(checked.send)  # the same accounts applied and deferred
    entries = {s.send.entry_id: s for s in (fast, checked)}
    memos = set(JournalEntry.objects.filter(pk__in=entries).values_list("memo", flat=True))
    assert memos == {f"3 x Momo to stream #{stream.pk}"}
    assert checked.balance == fast.balance - 60
    assert_ledger_sound()


@pytest.mark.django_db(transaction=True)
def test_a_retry_outside_a_transaction_returns_the_first_send_and_pays_nothing(sender, stream, gift):
    _send(sender, stream, gift)
    first = _send(sender, stream, gift, quantity=2, ref="r-1")
    _send(sender, stream, gift)  # the balance moves on before the retry arrives

    again = _send(sender, stream, gift, quantity=2, ref="r-1")

    assert again.replayed and not first.replayed
    assert again.send.pk == first.send.pk and again.balance == first.balance
    assert coins_balance(user_id=sender.pk) == 1_000 - 20 - 40 - 20
    assert_ledger_sound()


@pytest.mark.django_db
def test_a_retry_inside_a_callers_transaction_leaves_it_usable(sender, stream, gift):
    with transaction.atomic():
        first = _send(sender, stream, gift, ref="r-2")
        again = _send(sender, stream, gift, ref="r-2")
        # the duplicate was undone in a savepoint: the caller's transaction goes on
        assert GiftSend.objects.count() == 1
    assert again.replayed and again.send.pk == first.send.pk
    assert coins_balance(user_id=sender.pk) == 980


@pytest.mark.django_db
def test_a_key_reused_for_another_send_is_refused_and_writes_nothing(sender, stream, gift, post_gift):
    post_gift(sender, key="tap-9", stream=stream.pk, gift=gift.pk)

    response = post_gift(sender, key="tap-9", stream=stream.pk, gift=gift.pk, quantity=5)

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert response.json()["details"] == {"first_request": {"stream": stream.pk, "gift": gift.pk, "quantity": 1}}
    assert GiftSend.objects.count() == 1
    assert coins_balance(user_id=sender.pk) == 980


@pytest.mark.django_db
def test_the_same_key_of_two_users_are_two_sends(sender, stream, gift, post_gift):
    other = UserFactory()
    fund(other, 100)
    assert post_gift(sender, key="same", stream=stream.pk, gift=gift.pk).status_code == 201
    second = post_gift(other, key="same", stream=stream.pk, gift=gift.pk)
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert GiftSend.objects.count() == 2


@pytest.mark.django_db
def test_a_deactivated_account_with_a_valid_token_cannot_send(sender, stream, gift, auth_client):
    client = auth_client(sender)  # signed in before the account was deactivated
    sender.is_active = False
    sender.save(update_fields=["is_active"])

    response = client.post(
        "/api/v1/gifts/send/", {"stream": stream.pk, "gift": gift.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "account_inactive"
    assert GiftSend.objects.count() == 0


@pytest.mark.django_db
def test_og_only_gifts_take_the_checked_path_and_are_still_refused(sender, stream):
    crown = GiftFactory(og_only=True, coin_price=100)

    with pytest.raises(GiftNeedsOg):
        _send(sender, stream, crown)
    assert coins_balance(user_id=sender.pk) == 1_000


def test_adult_born_by_agrees_with_age_on_for_every_day_of_eight_years(settings):
    # every "today" from 2023 to 2030 (two leap days), against birthdays around the boundary
    settings.ADULT_AGE = 18
    today = date(2023, 1, 1)
    while today < date(2031, 1, 1):
        born_by = adult_born_by(today=today)
        for offset in range(-3, 4):
            dob = born_by + timedelta(days=offset)
            assert (age_on(dob, today) >= 18) == (dob <= born_by), (today, dob)
        today += timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_a_minor_turning_adult_today_passes_the_statement(stream, gift, django_assert_num_queries):
    today = timezone.localdate()
    born = adult_born_by(today=today)
    adult, minor = UserFactory(date_of_birth=born), UserFactory(date_of_birth=born + timedelta(days=1))
    fund(adult, 100)
    fund(minor, 100)
    _send(adult, stream, gift)  # creates the credit accounts

    with django_assert_num_queries(1):
        assert _send(adult, stream, gift).send.pk
    with pytest.raises(AgeRestricted):
        _send(minor, stream, gift)
    assert connection.vendor == "postgresql"
