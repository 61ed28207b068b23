"""Choosing the default payout destination: only a verified one of the host's own, one default at a
time, and never another host's."""

import uuid

import pytest

from apps.wallet.models import Account, PayoutDestination
from apps.wallet.services import account_for_user, ledger_post, platform_account
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.wallet.factories import KycSubmissionFactory, PayoutDestinationFactory

pytestmark = pytest.mark.django_db

DESTINATIONS = "/api/v1/wallet/payout-destinations/"
CASHOUTS = "/api/v1/wallet/cashouts/"


def _default_url(destination_id: int) -> str:
    return f"{DESTINATIONS}{destination_id}/default/"


@pytest.fixture(autouse=True)
def _terms(settings):
    settings.CASHOUT_MIN_COINS, settings.CASHOUT_PAISA_PER_COIN, settings.CASHOUT_HOLD_HOURS = 100, 50, 0


@pytest.fixture
def host():
    host = UserFactory()
    KycSubmissionFactory(user=host)
    ledger_post(
        kind="test_earnings",
        ref=uuid.uuid4().hex,
        postings=[
            (platform_account(kind=Account.Kind.REVENUE), -1_000),
            (account_for_user(user_id=host.pk, kind=Account.Kind.HOST_EARNINGS), 1_000),
        ],
    )
    return host


def _defaults(host) -> list[int]:
    return list(PayoutDestination.objects.filter(host=host, is_default=True).values_list("pk", flat=True))


def test_a_host_moves_the_default_and_a_cash_out_without_destination_goes_there(auth_client, host):
    # given two verified destinations, the first the default
    first = PayoutDestinationFactory(host=host, is_default=True)
    second = PayoutDestinationFactory(host=host)
    # when the host makes the second the default
    response = auth_client(host).post(_default_url(second.pk))
    # then it is the one default, and a cash-out that names none goes to it
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == second.pk and response.json()["is_default"] is True
    assert _defaults(host) == [second.pk]
    cashout = auth_client(host).post(CASHOUTS, {"coins": 200}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert cashout.status_code == 201, cashout.json()
    assert host.cashout_requests.get().destination_id == second.pk
    # and setting it again changes nothing
    assert auth_client(host).post(_default_url(second.pk)).status_code == 200
    assert _defaults(host) == [second.pk] and first.pk not in _defaults(host)


def test_another_host_s_destination_is_not_found_and_nothing_changes(auth_client, host):
    # given another host's verified default destination and this host's own default
    other = UserFactory()
    theirs = PayoutDestinationFactory(host=other, is_default=True)
    mine = PayoutDestinationFactory(host=host, is_default=True)
    # when this host tries to make the other's destination a default
    body = assert_error(auth_client(host).post(_default_url(theirs.pk)), 404, "payout_destination_not_found")
    # then nothing about the other host's (or this host's) destinations moved, and nothing is revealed
    assert body["details"] == {"destination_id": theirs.pk}
    assert _defaults(other) == [theirs.pk] and _defaults(host) == [mine.pk]


def test_another_host_cannot_take_away_someone_s_default(auth_client, host):
    # the owner makes one destination the default; another user pointing at the owner's other one fails
    a = PayoutDestinationFactory(host=host, is_default=True)
    b = PayoutDestinationFactory(host=host)
    intruder = UserFactory()
    assert_error(auth_client(intruder).post(_default_url(b.pk)), 404, "payout_destination_not_found")
    assert _defaults(host) == [a.pk]


@pytest.mark.parametrize("status", [PayoutDestination.Status.PENDING_DEPOSIT, PayoutDestination.Status.FAILED])
def test_an_unconfirmed_destination_cannot_be_the_default(auth_client, host, status):
    current = PayoutDestinationFactory(host=host, is_default=True)
    pending = PayoutDestinationFactory(host=host, status=status)
    body = assert_error(auth_client(host).post(_default_url(pending.pk)), 409, "payout_destination_not_verified")
    assert body["details"] == {"status": status}
    assert _defaults(host) == [current.pk]


def test_a_removed_destination_is_not_found(auth_client, host):
    removed = PayoutDestinationFactory(host=host, status=PayoutDestination.Status.REMOVED)
    assert_error(auth_client(host).post(_default_url(removed.pk)), 404, "payout_destination_not_found")


def test_signed_out_is_refused(api_client, host):
    destination = PayoutDestinationFactory(host=host)
    assert_error(api_client.post(_default_url(destination.pk)), 401)
    assert _defaults(host) == []
