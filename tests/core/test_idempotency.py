"""The Idempotency-Key mechanism, through the real money endpoint that uses it: host cash-outs."""

import uuid

import pytest
from rest_framework.test import APIClient

from apps.accounts import services as account_services
from apps.core.models import IdempotencyKey
from apps.wallet.models import Account, CashoutRequest, JournalEntry
from apps.wallet.selectors import ledger_audit, user_balances
from apps.wallet.services import account_for_user, ledger_post, platform_account
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error, assert_nothing_written, db_snapshot
from tests.wallet.factories import payout_ready

CASHOUTS = "/api/v1/wallet/cashouts/"


def grant_earnings(host, coins: int) -> None:
    ledger_post(
        kind="test_earnings",
        ref=uuid.uuid4().hex,
        postings=[
            (platform_account(kind=Account.Kind.ISSUANCE), -coins),
            (account_for_user(user_id=host.pk, kind=Account.Kind.HOST_EARNINGS), coins),
        ],
        memo="earnings for a test",
    )


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {account_services.tokens_issue(user=user)['access']}")
    client.destination_id = payout_ready(user)  # type: ignore[attr-defined]  # where its cash-outs go
    return client


def cash_out(client: APIClient, coins: int, key: str | None, raw: str | None = None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    if raw is not None:
        return client.post(CASHOUTS, data=raw, content_type="application/json", **headers)
    body = {"coins": coins, "destination_id": getattr(client, "destination_id", 1)}
    return client.post(CASHOUTS, body, format="json", **headers)


@pytest.fixture
def host(db, settings):
    settings.CASHOUT_MIN_COINS = 1000
    host = UserFactory()
    grant_earnings(host, 5000)
    return host


def cashout_entries() -> int:
    return JournalEntry.objects.filter(kind="cashout_request").count()


@pytest.mark.django_db
def test_a_retry_with_the_same_key_replays_the_first_response(host):
    client = client_for(host)

    # when the same request is sent twice with one key (the second with keys reordered and spaced)
    first = cash_out(client, 1500, "key-1")
    again = cash_out(client, 0, "key-1", raw=f'{{ "destination_id": {client.destination_id}, "coins" :1500 }}')

    # then one cash-out exists and the retry got the first response, marked as a replay
    assert first.status_code == 201, first.json()
    assert not first.has_header("Idempotent-Replayed")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert CashoutRequest.objects.count() == 1 and cashout_entries() == 1
    assert user_balances(user=host)["earnings"] == 3500
    assert ledger_audit() == []


@pytest.mark.django_db
def test_a_new_key_is_a_new_request(host):
    client = client_for(host)
    assert cash_out(client, 1000, "key-a").status_code == 201
    assert cash_out(client, 1000, "key-b").status_code == 201
    assert CashoutRequest.objects.count() == 2 and cashout_entries() == 2


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_409_and_writes_nothing(host):
    client = client_for(host)
    assert cash_out(client, 1500, "key-1").status_code == 201
    before = db_snapshot()

    response = cash_out(client, 2500, "key-1")

    body = assert_error(response, 409, "idempotency_key_reused")
    assert body["details"] == {"key": "key-1"}
    assert_nothing_written(before)


@pytest.mark.django_db
@pytest.mark.parametrize("key", [None, "", "k" * 256, "tab\there"], ids=["missing", "empty", "too-long", "unprintable"])
def test_a_missing_or_malformed_key_is_400_and_writes_nothing(host, key):
    client = client_for(host)
    before = db_snapshot()
    assert_error(cash_out(client, 1500, key), 400, "idempotency_key_invalid")
    assert_nothing_written(before)


@pytest.mark.django_db
def test_a_key_of_255_printable_characters_is_fine(host):
    assert cash_out(client_for(host), 1500, "k" * 255).status_code == 201


@pytest.mark.django_db
def test_a_refused_request_is_not_remembered_so_a_retry_after_fixing_it_acts(host):
    # given a request refused for lack of earnings
    client = client_for(host)
    before = db_snapshot()
    refused = cash_out(client, 9000, "key-1")
    assert_error(refused, 409, "insufficient_earnings")
    assert_nothing_written(before)

    # when the host earns more and retries with the same key
    grant_earnings(host, 5000)
    retried = cash_out(client, 9000, "key-1")

    # then the retry acts
    assert retried.status_code == 201, retried.json()
    assert not retried.has_header("Idempotent-Replayed")
    assert CashoutRequest.objects.get().coins == 9000
    assert ledger_audit() == []


@pytest.mark.django_db
def test_an_invalid_body_is_not_remembered_either(host):
    client = client_for(host)
    assert_error(cash_out(client, 0, "key-1", raw='{"coins": "lots"}'), 400, "invalid")
    assert not IdempotencyKey.objects.exists()
    assert cash_out(client, 1000, "key-1").status_code == 201


@pytest.mark.django_db
def test_keys_belong_to_one_user(host):
    other = UserFactory()
    grant_earnings(other, 2000)

    mine = cash_out(client_for(host), 1500, "shared-key")
    theirs = cash_out(client_for(other), 1200, "shared-key")

    assert mine.status_code == theirs.status_code == 201
    assert not theirs.has_header("Idempotent-Replayed")
    assert sorted(CashoutRequest.objects.values_list("host_id", "coins")) == sorted([(host.pk, 1500), (other.pk, 1200)])


@pytest.mark.django_db
def test_unauthenticated_is_401_before_the_key_is_looked_at(host):
    before = db_snapshot()
    assert_error(cash_out(APIClient(), 1500, "key-1"), 401, "not_authenticated")
    assert_nothing_written(before)


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_retries_with_one_key_create_one_cash_out(settings, race):
    # given a host with earnings and twenty copies of one request
    settings.CASHOUT_MIN_COINS = 1000
    host = UserFactory()
    grant_earnings(host, 5000)
    access = account_services.tokens_issue(user=host)["access"]
    destination_id = payout_ready(host)

    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        client.destination_id = destination_id  # type: ignore[attr-defined]
        return cash_out(client, 1500, "parallel-key")

    # when they race
    responses = race([send] * 20)

    # then one cash-out and one ledger entry exist, and every client saw the same answer
    assert len(responses) == 20
    assert {r.status_code for r in responses} == {201}, [(r.status_code, r.content[:200]) for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(1 for r in responses if not r.has_header("Idempotent-Replayed")) == 1
    assert CashoutRequest.objects.count() == 1
    assert cashout_entries() == 1
    assert IdempotencyKey.objects.count() == 1
    assert user_balances(user=host)["earnings"] == 3500
    assert ledger_audit() == []
