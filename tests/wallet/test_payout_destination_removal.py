"""Removing payout destinations: soft delete, never one a payout is on its way to, the default
handed over, and nobody else's."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.wallet.models import Account, CashoutRequest, PayoutDestination
from apps.wallet.selectors import ledger_audit
from apps.wallet.services import (
    account_for_user,
    ledger_post,
    payout_batch_create,
    payout_destination_add,
    payout_destination_confirm,
    payout_line_mark_paid,
    platform_account,
)
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.wallet.factories import KycSubmissionFactory, PayoutDestinationFactory, finance_user

pytestmark = pytest.mark.django_db

DESTINATIONS = "/api/v1/wallet/payout-destinations/"
CASHOUTS = "/api/v1/wallet/cashouts/"


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


def _verified(host, account_id: str, *, minutes_ago: int) -> PayoutDestination:
    """Add a destination and confirm it the way a host does (penny drop paid, code typed back)."""
    destination = payout_destination_add(host=host, rail="esewa", account_id=account_id, account_name="Sita Sharma")
    batch = payout_batch_create(rail="esewa", created_by=finance_user())
    payout_line_mark_paid(line_id=batch.lines.get().pk, provider_ref=f"ref-{account_id}", by=finance_user())
    payout_destination_confirm(host=host, destination_id=destination.pk, code=destination.verify_code)
    PayoutDestination.objects.filter(pk=destination.pk).update(
        verified_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return PayoutDestination.objects.get(pk=destination.pk)


def _cash_out(client, coins: int, destination_id: int | None = None):
    body = {"coins": coins} if destination_id is None else {"coins": coins, "destination_id": destination_id}
    return client.post(CASHOUTS, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


def test_the_first_verified_destination_is_the_default_and_removing_it_hands_over(auth_client, host):
    first = _verified(host, "9801111111", minutes_ago=30)
    second = _verified(host, "9802222222", minutes_ago=20)
    third = _verified(host, "9803333333", minutes_ago=10)
    client = auth_client(host)
    listed = {row["id"]: row["is_default"] for row in client.get(DESTINATIONS).json()["results"]}
    assert listed == {first.pk: True, second.pk: False, third.pk: False}

    # removing the default: the latest verified one left takes over, and a cash-out naming none goes there
    assert client.delete(f"{DESTINATIONS}{first.pk}/").status_code == 204
    removed = PayoutDestination.objects.get(pk=first.pk)
    assert (removed.status, removed.is_default) == (PayoutDestination.Status.REMOVED, False)
    assert removed.removed_at is not None  # kept: cash-outs and batch lines that named it stay provable
    assert [row["id"] for row in client.get(DESTINATIONS).json()["results"]] == [third.pk, second.pk]
    assert PayoutDestination.objects.get(is_default=True).pk == third.pk
    cashout = _cash_out(client, 100)
    assert cashout.status_code == 201, cashout.json()
    assert CashoutRequest.objects.get().destination_id == third.pk

    # removing one that is not the default leaves the default alone
    assert client.delete(f"{DESTINATIONS}{second.pk}/").status_code == 204
    assert PayoutDestination.objects.get(is_default=True).pk == third.pk


def test_a_destination_a_payout_is_on_its_way_to_cannot_be_removed(auth_client, host):
    destination = _verified(host, "9801111111", minutes_ago=5)
    client = auth_client(host)
    cashout_id = _cash_out(client, 200, destination.pk).json()["id"]

    # waiting for a batch, then in one
    refused = client.delete(f"{DESTINATIONS}{destination.pk}/")
    assert_error(refused, 409, "payout_destination_in_use")
    assert refused.json()["details"]["cashout_ids"] == [cashout_id]
    batch = payout_batch_create(rail="esewa", created_by=finance_user())
    assert CashoutRequest.objects.get().status == CashoutRequest.Status.BATCHED
    assert_error(client.delete(f"{DESTINATIONS}{destination.pk}/"), 409, "payout_destination_in_use")
    assert PayoutDestination.objects.get(pk=destination.pk).status == PayoutDestination.Status.VERIFIED

    # once paid, it may go
    payout_line_mark_paid(line_id=batch.lines.get().pk, provider_ref="ESW-1", by=finance_user())
    assert client.delete(f"{DESTINATIONS}{destination.pk}/").status_code == 204
    assert ledger_audit() == []


def test_a_destination_whose_confirmation_credit_is_in_a_batch_cannot_be_removed(auth_client, host):
    destination = payout_destination_add(host=host, rail="esewa", account_id="9801111111", account_name="Sita Sharma")
    payout_batch_create(rail="esewa", created_by=finance_user())
    assert_error(auth_client(host).delete(f"{DESTINATIONS}{destination.pk}/"), 409, "payout_destination_in_use")


def test_a_destination_not_yet_confirmed_can_be_removed_and_added_again(auth_client, host):
    body = {"rail": "khalti", "account_id": "9801111111", "account_name": "Sita Sharma"}
    client = auth_client(host)
    added = client.post(DESTINATIONS, body, format="json").json()
    assert client.delete(f"{DESTINATIONS}{added['id']}/").status_code == 204
    # removed twice: as good as missing
    assert_error(client.delete(f"{DESTINATIONS}{added['id']}/"), 404, "payout_destination_not_found")
    assert client.post(DESTINATIONS, body, format="json").status_code == 201


def test_another_hosts_destination_is_not_found(auth_client, api_client, host):
    theirs = PayoutDestinationFactory(host=UserFactory())
    assert_error(auth_client(host).delete(f"{DESTINATIONS}{theirs.pk}/"), 404, "payout_destination_not_found")
    assert_error(api_client.delete(f"{DESTINATIONS}{theirs.pk}/"), 401)
    assert PayoutDestination.objects.get(pk=theirs.pk).status == PayoutDestination.Status.VERIFIED
