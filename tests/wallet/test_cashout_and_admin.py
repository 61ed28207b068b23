"""Cash-outs (minimum, rate, Finance review, every step a ledger entry) and the wallet admin."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from apps.core.exceptions import PermissionDenied
from apps.wallet.exceptions import CashoutNotPayable
from apps.wallet.models import Account, CashoutRequest, CoinGrant, JournalEntry, KycSubmission, PayoutDestination
from apps.wallet.selectors import account_available, coins_balance, ledger_audit, user_balances
from apps.wallet.services import cashout_approve, cashout_reject, platform_account
from tests.accounts.factories import UserFactory
from tests.wallet.factories import finance_user, fund, hold_period_over, host_earns_from_a_gift, payout_ready

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _terms(settings):
    settings.CASHOUT_MIN_COINS, settings.CASHOUT_PAISA_PER_COIN, settings.GIFT_HOST_SHARE_PERCENT = 100, 50, 60
    settings.ADMIN_REQUIRE_2FA = False


@pytest.fixture
def host():
    """A host who earned 600 coins from gifts (credits still waiting for the rollup)."""
    host = UserFactory()
    host_earns_from_a_gift(host)
    return host


def _platform(kind: str) -> int:
    """A platform account's coins including credits not yet rolled up."""
    return account_available(account=platform_account(kind=kind))


def _request_cashout(auth_client, host, coins: int, key: str = "c-1"):
    body = {"coins": coins, "destination_id": payout_ready(host)}
    return auth_client(host).post("/api/v1/wallet/cashouts/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_cashout_request_holds_earnings_at_the_current_rate(auth_client, host):
    response = _request_cashout(auth_client, host, 400)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["coins"], body["paisa_per_coin"], body["amount_paisa"], body["status"]) == (
        400,
        50,
        20_000,
        "requested",
    )
    assert user_balances(user=host)["earnings"] == 200
    assert _platform(Account.Kind.CASHOUT_HOLD) == 400
    assert JournalEntry.objects.filter(kind="cashout_request", ref=str(body["id"])).exists()
    assert _request_cashout(auth_client, host, 400).json() == body  # a retry replays
    assert CashoutRequest.objects.count() == 1
    assert ledger_audit() == []


@pytest.mark.parametrize(("coins", "code"), [(99, "cashout_below_minimum"), (601, "insufficient_earnings")])
def test_cashout_below_minimum_or_above_earnings_is_refused(auth_client, host, coins, code):
    response = _request_cashout(auth_client, host, coins)
    assert response.status_code in (400, 409) and response.json()["code"] == code
    assert not CashoutRequest.objects.exists()
    assert user_balances(user=host)["earnings"] == 600


def test_finance_approves_and_coins_leave_as_payout(auth_client, host):
    cashout_id = _request_cashout(auth_client, host, 500).json()["id"]
    hold_period_over()
    cashout = cashout_approve(request_id=cashout_id, reviewer=finance_user(), note="paid via eSewa")
    assert cashout.status == CashoutRequest.Status.APPROVED
    # 15 % (the default rate) is withheld as tax, the rest leaves as payout
    assert (_platform(Account.Kind.PAYOUTS), _platform(Account.Kind.TAX_WITHHELD)) == (425, 75)
    assert _platform(Account.Kind.CASHOUT_HOLD) == 0
    assert JournalEntry.objects.filter(kind="cashout_paid", ref=str(cashout_id)).exists()
    assert ledger_audit() == []


def test_rejection_returns_the_earnings(auth_client, host):
    cashout_id = _request_cashout(auth_client, host, 500).json()["id"]
    cashout_reject(request_id=cashout_id, reviewer=finance_user(), note="name mismatch")
    assert user_balances(user=host)["earnings"] == 600
    assert JournalEntry.objects.filter(kind="cashout_rejected", ref=str(cashout_id)).exists()
    with pytest.raises(Exception, match="already reviewed"):
        cashout_approve(request_id=cashout_id, reviewer=finance_user())
    assert ledger_audit() == []


def test_only_finance_reviews_cashouts(auth_client, host):
    cashout_id = _request_cashout(auth_client, host, 500).json()["id"]
    with pytest.raises(PermissionDenied):
        cashout_approve(request_id=cashout_id, reviewer=UserFactory(is_staff=True))
    assert CashoutRequest.objects.get().status == CashoutRequest.Status.REQUESTED


def test_admin_review_queue_rejects_through_the_service(client, auth_client, host):
    cashout_id = _request_cashout(auth_client, host, 500).json()["id"]
    client.force_login(finance_user())
    response = client.post(
        "/admin/wallet/cashoutrequest/",
        {"action": "reject", ACTION_CHECKBOX_NAME: [cashout_id]},
        follow=True,
    )
    assert response.status_code == 200
    assert CashoutRequest.objects.get().status == CashoutRequest.Status.REJECTED
    assert user_balances(user=host)["earnings"] == 600


def test_staff_outside_finance_cannot_review_in_admin(client, auth_client, host):
    cashout_id = _request_cashout(auth_client, host, 500).json()["id"]
    client.force_login(UserFactory(is_staff=True))
    response = client.post("/admin/wallet/cashoutrequest/", {"action": "reject", ACTION_CHECKBOX_NAME: [cashout_id]})
    assert response.status_code == 403
    assert CashoutRequest.objects.get().status == CashoutRequest.Status.REQUESTED


def test_ledger_admin_is_read_only_even_for_superusers(admin_client, user):
    fund(user, 10)
    entry = JournalEntry.objects.get()
    assert admin_client.get(f"/admin/wallet/journalentry/{entry.pk}/change/").status_code == 200
    assert admin_client.get("/admin/wallet/journalentry/add/").status_code == 403
    assert admin_client.post(f"/admin/wallet/journalentry/{entry.pk}/delete/").status_code == 403
    account = Account.objects.get(owner=user)
    assert admin_client.post(f"/admin/wallet/account/{account.pk}/change/", {"balance": 999}).status_code == 403
    assert coins_balance(user_id=user.pk) == 10
    # a user's coins and history are one click away
    page = admin_client.get("/admin/wallet/account/", {"q": user.username}).content.decode()
    assert f"account__id__exact={account.pk}" in page


def test_grant_in_admin_is_for_finance_only(client, user):
    # given a staff member outside Finance
    client.force_login(UserFactory(is_staff=True))
    response = client.post("/admin/wallet/coingrant/add/", {"user": user.pk, "amount": 100, "reason": "promo"})
    assert response.status_code == 403
    assert coins_balance(user_id=user.pk) == 0

    # when Finance grants, then the coins arrive through a ledger entry with the reason
    client.force_login(finance_user())
    response = client.post("/admin/wallet/coingrant/add/", {"user": user.pk, "amount": 100, "reason": "promo"})
    assert response.status_code == 302, response.content[:500]
    assert coins_balance(user_id=user.pk) == 100
    assert CoinGrant.objects.get().entry.memo == "promo"
    assert ledger_audit() == []


def test_the_admin_has_no_way_to_pay_a_cash_out_inside_its_hold_period(client, auth_client, host):
    # The old "Approve (paid out)" action paid a cash-out the moment it was asked for, skipping the
    # 72 h hold the batches apply: money leaves only through a payout batch now.
    cashout_id = _request_cashout(auth_client, host, 500).json()["id"]
    client.force_login(finance_user())
    client.post("/admin/wallet/cashoutrequest/", {"action": "approve", ACTION_CHECKBOX_NAME: [cashout_id]})
    assert CashoutRequest.objects.get().status == CashoutRequest.Status.REQUESTED
    assert not JournalEntry.objects.filter(kind="cashout_paid").exists()
    assert _platform(Account.Kind.CASHOUT_HOLD) == 500


def test_paying_outside_a_batch_applies_the_batch_rules(auth_client, host):
    cashout_id = _request_cashout(auth_client, host, 500).json()["id"]
    with pytest.raises(CashoutNotPayable) as early:
        cashout_approve(request_id=cashout_id, reviewer=finance_user())
    assert early.value.details["reason"] == "hold_period"

    hold_period_over()
    PayoutDestination.objects.update(status=PayoutDestination.Status.REMOVED)
    with pytest.raises(CashoutNotPayable) as unconfirmed:
        cashout_approve(request_id=cashout_id, reviewer=finance_user())
    assert unconfirmed.value.details == {"reason": "destination", "status": "removed"}

    PayoutDestination.objects.update(status=PayoutDestination.Status.VERIFIED)
    KycSubmission.objects.update(status=KycSubmission.Status.REJECTED)
    with pytest.raises(CashoutNotPayable) as no_kyc:
        cashout_approve(request_id=cashout_id, reviewer=finance_user())
    assert no_kyc.value.details == {"reason": "kyc"}
    assert CashoutRequest.objects.get().status == CashoutRequest.Status.REQUESTED
    assert ledger_audit() == []
