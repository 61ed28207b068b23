"""One list of gift rules (apps.gifts.rules) serves both paths: for every rule, a send that breaks only
that rule is declined by the one statement with nothing written, and the step-by-step path names
that rule's error."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.exceptions import AccountBanned, AccountInactive, AgeCheckFailed, AgeRestricted, UserBlocked
from apps.accounts.models import Block, User
from apps.accounts.services import user_ban
from apps.core.exceptions import DomainError
from apps.gifts import services
from apps.gifts.exceptions import CannotGiftSelf, GiftNeedsOg, GiftUnavailable
from apps.gifts.models import Gift, GiftSend
from apps.gifts.rules import GIFT_RULES
from apps.live.exceptions import StreamGiftingPaused, StreamNotLive
from apps.live.models import Stream
from apps.live.stream_status import stream_gifting_pause
from apps.wallet.models import JournalEntry
from apps.wallet.selectors import coins_balance
from tests.gifts.factories import GiftFactory, LiveStreamFactory

pytestmark = pytest.mark.django_db


def _inactive(send):
    User.objects.filter(pk=send["sender_id"]).update(is_active=False)


def _banned(send):
    user_ban(user=User.objects.get(pk=send["sender_id"]), days=1, reason="spam")


def _minor(send):
    User.objects.filter(pk=send["sender_id"]).update(date_of_birth=timezone.localdate() - timedelta(days=16 * 365))


def _held_for_age_review(send):
    User.objects.filter(pk=send["sender_id"]).update(age_verification=User.AgeVerification.PENDING_REVIEW)


def _gift_retired(send):
    Gift.objects.filter(pk=send["gift_id"]).update(is_active=False)


def _stream_ended(send):
    Stream.objects.filter(pk=send["stream_id"]).update(status=Stream.Status.ENDED, ended_at=timezone.now())


def _stream_gifting_paused(send):
    stream_gifting_pause(stream_id=send["stream_id"], paused=True)


def _own_stream(send):
    send["stream_id"] = LiveStreamFactory(host_id=send["sender_id"]).pk


def _blocked(send):
    Block.objects.create(blocker_id=Stream.objects.get(pk=send["stream_id"]).host_id, blocked_id=send["sender_id"])


def _og_only_gift(send):
    send["gift_id"] = GiftFactory(og_only=True, coin_price=20).pk


# Each rule, the ways to break only it, and the error the step-by-step path raises.
BREAKS: dict[str, list[tuple[object, type[DomainError]]]] = {
    "sender_in_good_standing": [
        (_inactive, AccountInactive),
        (_banned, AccountBanned),
        (_minor, AgeRestricted),
        (_held_for_age_review, AgeCheckFailed),
    ],
    "gift_sendable": [(_gift_retired, GiftUnavailable)],
    "stream_live": [(_stream_ended, StreamNotLive)],
    "stream_gifting_open": [(_stream_gifting_paused, StreamGiftingPaused)],
    "not_own_stream": [(_own_stream, CannotGiftSelf)],
    "not_blocked": [(_blocked, UserBlocked)],
    "og_gift_allowed": [(_og_only_gift, GiftNeedsOg)],
}

CASES = [
    pytest.param(rule.name, spoil, error, id=f"{rule.name}-{spoil.__name__.strip('_')}")
    for rule in GIFT_RULES
    for spoil, error in BREAKS.get(rule.name, [])  # a rule without a way to break it fails the test above
]


def test_every_rule_has_a_way_to_break_it():
    assert {rule.name for rule in GIFT_RULES} == set(BREAKS)


@pytest.mark.parametrize(("rule", "spoil", "error"), CASES)
def test_a_send_breaking_one_rule_is_declined_by_the_statement_and_named_by_the_checks(
    rule, spoil, error, sender, stream, gift
):
    # given a send that would go through (the host's accounts exist after a first gift)
    services.gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1)
    send = {"sender_id": sender.pk, "stream_id": stream.pk, "gift_id": gift.pk, "quantity": 1, "ref": "r-1"}
    assert services._gift_send_statement(**send | {"ref": "proof"}) is not None  # the statement accepts it
    sends, entries, balance = GiftSend.objects.count(), JournalEntry.objects.count(), coins_balance(user_id=sender.pk)

    # when only this rule is broken
    spoil(send)
    services.gift_catalogue_invalidate()

    # then the statement declines and writes nothing
    assert services._gift_send_statement(**send) is None
    # and the step-by-step path raises the rule's own error, writing nothing either
    with pytest.raises(error):
        services._gift_send_checked(**send)
    assert (GiftSend.objects.count(), JournalEntry.objects.count()) == (sends, entries)
    assert coins_balance(user_id=sender.pk) == balance


def test_a_send_within_every_rule_passes_both_paths(sender, stream, gift):
    services.gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1)

    by_statement = services._gift_send_statement(
        sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1, ref="a"
    )
    by_checks = services._gift_send_checked(
        sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1, ref="b"
    )

    assert by_statement is not None and by_checks.send.pk
    assert coins_balance(user_id=sender.pk) == 1_000 - 3 * 20
