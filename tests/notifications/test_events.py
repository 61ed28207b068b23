"""Events from the apps below become inbox items through their signals, after commit (gifts: collected
from the gift records by a beat task): gifts and new followers batched into one item, moderation
decisions, appeal outcomes, cash-out and top-up results."""

import pytest
from django.utils import timezone

from apps.accounts.services import follow_create
from apps.gifts.services import gift_send
from apps.moderation import services as moderation
from apps.notifications.models import Kind, Notification
from apps.notifications.services import gift_digests_collect
from apps.payments.signals import payment_settled
from apps.wallet.models import CashoutRequest
from apps.wallet.services import cashout_approve, cashout_reject, cashout_request
from tests.accounts.factories import UserFactory, member
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.moderation.factories import EnforcementFactory, ReportCaseFactory
from tests.wallet.factories import finance_user, fund, hold_period_over, host_earns_from_a_gift, payout_ready

pytestmark = pytest.mark.django_db


def test_several_follows_within_the_window_become_one_item(user, django_capture_on_commit_callbacks):
    fans = [UserFactory(display_name=f"Fan {n}") for n in range(3)]
    for fan in fans:
        with django_capture_on_commit_callbacks(execute=True):
            follow_create(follower=fan, followee=user)
    item = Notification.objects.get(user=user)
    assert (item.kind, item.count) == (Kind.NEW_FOLLOWER, 3)
    assert item.params["variant"] == "many"
    assert item.params["follower"] == "Fan 2"


def _send(stream, gift) -> None:
    """A new viewer sends the stream one gift (committed on its own)."""
    viewer = UserFactory(display_name=f"Fan of {gift.coin_price}")
    fund(viewer, gift.coin_price)
    gift_send(sender_id=viewer.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=1)


def test_the_gifts_sent_since_the_last_collection_become_one_item_per_host():
    # given a collection that already ran, then two gifts to one host's stream and one to another's
    gift_digests_collect()
    stream, other = LiveStreamFactory(), LiveStreamFactory()
    big, small, tiny = (GiftFactory(coin_price=price) for price in (300, 200, 100))  # before the catalogue is cached
    for to, gift in ((stream, big), (stream, small), (other, tiny)):
        _send(to, gift)

    # when the beat collects, twice
    assert gift_digests_collect() == 2
    assert gift_digests_collect() == 0

    # then each host has one item: the count, the coins and the latest sender
    item = Notification.objects.get(user=stream.host, kind=Kind.GIFT_RECEIVED)
    assert (item.count, item.params["coins"], item.params["variant"]) == (2, 500, "many")
    assert item.params["sender"] == "Fan of 200"
    single = Notification.objects.get(user=other.host, kind=Kind.GIFT_RECEIVED)
    assert (single.count, single.params["variant"]) == (1, "one")


def test_a_gift_after_the_item_was_read_starts_a_new_item():
    gift_digests_collect()
    stream, gift = LiveStreamFactory(), GiftFactory(coin_price=300)
    for _ in range(2):
        _send(stream, gift)
        gift_digests_collect()
        Notification.objects.filter(user=stream.host).update(read_at=timezone.now())
    assert Notification.objects.filter(user=stream.host, kind=Kind.GIFT_RECEIVED).count() == 2


def test_a_moderators_warning_reaches_the_user(django_capture_on_commit_callbacks):
    case = ReportCaseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        moderation.case_act(actor=member("superuser"), case_id=case.pk, action="warn", reason="be kind")
    item = Notification.objects.get(user=case.subject)
    assert (item.kind, item.params["variant"]) == (Kind.MODERATION_DECISION, "warn")


def test_a_dismissed_case_tells_nobody(django_capture_on_commit_callbacks):
    case = ReportCaseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        moderation.case_act(actor=member("superuser"), case_id=case.pk, action="dismiss", reason="fine")
    assert not Notification.objects.exists()


def test_an_appeal_outcome_reaches_the_user(django_capture_on_commit_callbacks):
    enforcement = EnforcementFactory()
    appeal = moderation.appeal_create(user=enforcement.user, enforcement_id=enforcement.pk, text="It was a joke")
    case_id = _appeal_case_id(appeal.enforcement)
    with django_capture_on_commit_callbacks(execute=True):
        moderation.case_act(actor=member("superuser"), case_id=case_id, action="appeal_overturn", reason="agreed")
    item = Notification.objects.get(user=enforcement.user)
    assert (item.kind, item.params["variant"]) == (Kind.APPEAL_OUTCOME, "overturned")


def _appeal_case_id(enforcement) -> int:
    from apps.moderation.models import Case

    return Case.objects.get(kind=Case.Kind.APPEAL, enforcement=enforcement).pk


@pytest.mark.parametrize(("review", "variant"), [(cashout_approve, "approved"), (cashout_reject, "rejected")])
def test_a_cashout_review_reaches_the_host(review, variant, settings, django_capture_on_commit_callbacks):
    settings.CASHOUT_MIN_COINS = 100
    host = UserFactory()
    host_earns_from_a_gift(host)
    payout_ready(host)
    cashout_request(host=host, coins=500)
    hold_period_over()
    cashout = CashoutRequest.objects.get(host=host)
    with django_capture_on_commit_callbacks(execute=True):
        review(request_id=cashout.pk, reviewer=finance_user(), note="checked")
    item = Notification.objects.get(user=host, kind=Kind.CASHOUT_RESULT)
    assert item.params == {"variant": variant, "cashout_id": cashout.pk, "coins": 500}


def test_a_settled_top_up_reaches_the_payer(user, django_capture_on_commit_callbacks):
    # the payments side (settlement sending this signal) is exercised by tests/payments
    with django_capture_on_commit_callbacks(execute=True):
        payment_settled.send(sender=None, payment_id=9, user_id=user.pk, status="expired", coins=525)
    item = Notification.objects.get(user=user)
    assert (item.kind, item.params["variant"]) == (Kind.PAYMENT_RESULT, "failed")
