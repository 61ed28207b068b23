"""Nobody reviews a request of their own: a Finance member's own cash-out or coin grant."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages

from apps.accounts.exceptions import OwnRequest
from apps.wallet.models import CashoutRequest, CoinGrant
from apps.wallet.selectors import coins_balance
from apps.wallet.services import cashout_approve, cashout_reject, cashout_request, coins_grant
from tests.wallet.factories import finance_user, hold_period_over, host_earns_from_a_gift, payout_ready

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _terms(settings):
    settings.CASHOUT_MIN_COINS, settings.CASHOUT_PAISA_PER_COIN, settings.GIFT_HOST_SHARE_PERCENT = 100, 50, 60
    settings.ADMIN_REQUIRE_2FA = False


@pytest.fixture
def finance_host():
    """A Finance member who also hosts, earned 600 coins and asked to cash out 500."""
    host = finance_user()
    host_earns_from_a_gift(host)
    cashout_request(host=host, coins=500, destination_id=payout_ready(host))
    hold_period_over()
    return host


@pytest.mark.parametrize("review", [cashout_approve, cashout_reject])
def test_finance_cannot_review_their_own_cashout_but_a_colleague_can(finance_host, review):
    cashout = CashoutRequest.objects.get(host=finance_host)
    with pytest.raises(OwnRequest):
        review(request_id=cashout.pk, reviewer=finance_host, note="mine")
    assert CashoutRequest.objects.get(pk=cashout.pk).status == CashoutRequest.Status.REQUESTED

    review(request_id=cashout.pk, reviewer=finance_user(), note="checked")
    assert CashoutRequest.objects.get(pk=cashout.pk).status != CashoutRequest.Status.REQUESTED


def test_the_admin_reject_action_refuses_ones_own_cashout_with_a_message(client, finance_host):
    cashout = CashoutRequest.objects.get(host=finance_host)
    client.force_login(finance_host)

    response = client.post(
        "/admin/wallet/cashoutrequest/", {"action": "reject", ACTION_CHECKBOX_NAME: [cashout.pk]}, follow=True
    )

    assert response.status_code == 200
    assert CashoutRequest.objects.get(pk=cashout.pk).status == CashoutRequest.Status.REQUESTED
    assert any(f"#{cashout.pk}" in str(m) and "own" in str(m) for m in get_messages(response.wsgi_request))


def test_finance_cannot_grant_coins_to_themselves(client):
    member = finance_user()
    with pytest.raises(OwnRequest):
        coins_grant(user=member, amount=100, reason="bonus", granted_by=member)

    client.force_login(member)
    response = client.post("/admin/wallet/coingrant/add/", {"user": member.pk, "amount": 100, "reason": "bonus"})
    assert response.status_code == 200 and b"grants coins to themselves" in response.content
    assert not CoinGrant.objects.exists() and coins_balance(user_id=member.pk) == 0

    coins_grant(user=member, amount=100, reason="bonus", granted_by=finance_user())
    assert coins_balance(user_id=member.pk) == 100
