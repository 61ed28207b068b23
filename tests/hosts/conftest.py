import contextlib
from collections.abc import Iterator
from datetime import datetime
from unittest import mock

import pytest
from django.utils import timezone

from apps.gifts.services import gift_send
from apps.live.models import Stream
from tests.accounts.factories import UserFactory
from tests.gifts.factories import GiftFactory, LiveStreamFactory
from tests.wallet.factories import fund, payout_ready


@pytest.fixture(autouse=True)
def _terms(settings):
    settings.CASHOUT_MIN_COINS, settings.CASHOUT_PAISA_PER_COIN, settings.GIFT_HOST_SHARE_PERCENT = 10, 50, 60


@pytest.fixture
def host(db):
    """A host who may cash out: an approved identity check and one confirmed destination."""
    user = UserFactory(username="sita", display_name="Sita Rai")
    payout_ready(user)
    return user


@pytest.fixture
def fan(db):
    user = UserFactory(username="fan")
    fund(user, 100_000)
    return user


@pytest.fixture
def momo(db):
    return GiftFactory(name="Momo", coin_price=20)


@contextlib.contextmanager
def clock_at(at: datetime | None) -> Iterator[None]:
    """Every `timezone.now()` answers `at` meanwhile (the ledger is append-only: entries cannot be
    moved into the past afterwards, so they are written there)."""
    if at is None:
        yield
        return
    with mock.patch.object(timezone, "now", return_value=at):
        yield


def stream_with_gifts(host, sender, gift, quantities, *, at: datetime | None = None, peak: int = 0) -> Stream:
    """A stream of `host` that got one send per quantity from `sender` and ended, all at `at` (now
    by default), through the real services."""
    with clock_at(at):
        stream = LiveStreamFactory(host=host, peak_viewers=peak, started_at=timezone.now())
        for quantity in quantities:
            gift_send(sender_id=sender.pk, stream_id=stream.pk, gift_id=gift.pk, quantity=quantity)
        Stream.objects.filter(pk=stream.pk).update(status=Stream.Status.ENDED, ended_at=timezone.now())
    stream.refresh_from_db()
    return stream
