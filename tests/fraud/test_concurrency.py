"""Settlements and holds racing cash-outs on real PostgreSQL, with threads: no coin is created or
lost, and no cash-out is paid past a hold."""

import pytest

from apps.payments.services import payment_refund_settle
from apps.wallet.exceptions import CashoutHeld, InsufficientEarnings
from apps.wallet.models import Account, CashoutHold, CashoutRequest
from apps.wallet.selectors import account_available, ledger_audit, user_balances
from apps.wallet.services import (
    account_for_user,
    cashout_approve,
    cashout_hold_place,
    cashout_request,
    ledger_post,
    platform_account,
)
from tests.accounts.factories import UserFactory
from tests.fraud.factories import finance_user, gift, refund_after_spending, top_up
from tests.wallet.factories import hold_period_over, payout_ready

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 4


@pytest.fixture(autouse=True)
def _terms(settings):
    settings.GIFT_HOST_SHARE_PERCENT, settings.CASHOUT_MIN_COINS = 60, 100


def _platform(kind: str) -> int:
    return account_available(account=platform_account(kind=kind))


@pytest.mark.parametrize("round_", range(ROUNDS))  # several rounds: several interleavings
def test_a_claw_back_racing_a_cashout_never_creates_or_loses_a_coin(monkeypatch, race, round_):
    finance = finance_user()
    # given a payer who spent a refunded top-up of 1,000 on a host (who earned 600 from it)
    payer, host = UserFactory(), UserFactory()
    payment = top_up(monkeypatch, payer, 1000)
    gift(payer, host, 1000)
    payment = refund_after_spending(monkeypatch, payment)
    written_off_before = _platform(Account.Kind.WRITE_OFF)

    destination_id = payout_ready(host)

    # when Finance claws back while the host cashes out everything, at the same moment
    settle, cashout = race(
        [
            lambda: payment_refund_settle(payment_id=payment.pk, method="claw_back", reason="race", by=finance),
            lambda: cashout_request(host=host, coins=600, destination_id=destination_id),
        ]
    )

    # then the 600 earned went exactly once: to the claw back or to the cash-out, never both or neither
    assert not isinstance(settle, Exception), settle
    clawed = settle.from_hosts.get(host.pk, 0)
    cashed = 0 if isinstance(cashout, InsufficientEarnings) else cashout.coins
    assert not isinstance(cashout, Exception) or isinstance(cashout, InsufficientEarnings), cashout
    assert clawed + cashed == 600
    assert user_balances(user=host)["earnings"] == 0
    assert settle.written_off == 1000 - clawed
    assert _platform(Account.Kind.WRITE_OFF) == written_off_before - settle.written_off
    assert ledger_audit() == []


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_hold_racing_an_approval_never_lets_a_payment_past_it(race, round_):
    finance = finance_user()
    # given a host's cash-out of 500 earned coins, waiting for Finance
    host = UserFactory()
    earnings = account_for_user(user_id=host.pk, kind=Account.Kind.HOST_EARNINGS)
    ledger_post(
        kind="test_earning",
        ref=f"{host.pk}",
        postings=[(platform_account(kind=Account.Kind.REVENUE), -500), (earnings, 500)],
    )
    cashout = cashout_request(host=host, coins=500, destination_id=payout_ready(host))
    hold_period_over()

    # when Finance approves it while a fraud case places a hold on the host
    approved, hold = race(
        [
            lambda: cashout_approve(request_id=cashout.pk, reviewer=finance),
            lambda: cashout_hold_place(host_id=host.pk, source="fraud_case", ref="case-1", reason="review"),
        ]
    )

    # then either the hold came first and the approval was refused, or the approval was done before it
    assert isinstance(hold, CashoutHold), hold
    cashout.refresh_from_db()
    if isinstance(approved, CashoutHeld):
        assert cashout.status == CashoutRequest.Status.REQUESTED
    else:
        assert not isinstance(approved, Exception), approved
        # the approval committed before the hold was placed
        assert cashout.status == CashoutRequest.Status.APPROVED
        assert cashout.reviewed_at <= CashoutHold.objects.get(pk=hold.pk).created_at
    assert ledger_audit() == []
