"""Finance settles a top-up the gateway refunded after its coins were spent: write off, claw back from
the hosts' earnings, or ban; each one balanced ledger entry with a reason, and `wallet_audit` clean."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command

from apps.core.exceptions import DomainError, PermissionDenied
from apps.payments.exceptions import RefundNotSettleable
from apps.payments.gateways import State
from apps.payments.models import Payment
from apps.payments.services import payment_refund_settle, payment_verify
from apps.wallet.models import Account, JournalEntry
from apps.wallet.selectors import account_available, coins_balance, user_balances
from apps.wallet.services import cashout_request, platform_account
from tests.accounts.factories import UserFactory
from tests.fraud.factories import answering, finance_user, gift, refund_after_spending, top_up
from tests.wallet.factories import fund, payout_ready

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _terms(settings):
    settings.GIFT_HOST_SHARE_PERCENT, settings.CASHOUT_MIN_COINS = 60, 100
    settings.ADMIN_REQUIRE_2FA = False


def _audit_clean() -> None:
    call_command("wallet_audit")  # raises CommandError on any discrepancy


def _platform(kind: str) -> int:
    return account_available(account=platform_account(kind=kind))


@pytest.fixture
def spent(monkeypatch):
    """A payer bought 1,000 coins, gave 800 to two hosts (500 and 300) and kept 200; then the gateway
    refunded the payment. Returns (payment, payer, host_a, host_b)."""
    payer, host_a, host_b = UserFactory(), UserFactory(), UserFactory()
    payment = top_up(monkeypatch, payer, 1000)
    gift(payer, host_a, 500)
    gift(payer, host_b, 300)
    payment = refund_after_spending(monkeypatch, payment)
    assert payment.refund_unrecovered_at is not None and payment.refund_entry_id is None
    assert coins_balance(user_id=payer.pk) == 200
    return payment, payer, host_a, host_b


def _settle_in_admin(client, payment, action: str, reason: str = "gateway refund #77"):
    client.force_login(finance_user())
    url = "/admin/payments/paymentreview/"
    # first the confirmation page asks for the reason, then the settlement is applied
    page = client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [payment.pk]})
    assert page.status_code == 200 and "reason" in page.content.decode()
    return client.post(
        url, {"action": action, ACTION_CHECKBOX_NAME: [payment.pk], "apply": "1", "reason": reason}, follow=True
    )


def _entry(payment: Payment) -> dict[str, int]:
    entry = JournalEntry.objects.get(kind="topup_refund", ref=str(payment.pk))
    return {f"{p.account.kind}:{p.account.owner_id or ''}": p.amount for p in entry.postings.select_related("account")}


def test_write_off_takes_what_is_left_and_writes_off_the_rest(client, spent):
    payment, payer, host_a, host_b = spent
    issued_before = _platform(Account.Kind.ISSUANCE)

    response = _settle_in_admin(client, payment, "settle_write_off")

    assert any(
        "200 coins from the payer, 0 from hosts, 800 written off" in str(m) for m in response.context["messages"]
    )
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED and payment.refund_entry is not None
    assert _entry(payment) == {"issuance:": 1000, f"user_coins:{payer.pk}": -200, "write_off:": -800}
    assert payment.refund_entry.memo == "Write off what the payer no longer has: gateway refund #77"
    assert coins_balance(user_id=payer.pk) == 0
    assert user_balances(user=host_a)["earnings"] == 300  # hosts keep their earnings
    assert _platform(Account.Kind.ISSUANCE) == issued_before + 1000
    assert _platform(Account.Kind.WRITE_OFF) == -800
    _audit_clean()


def test_claw_back_takes_from_the_hosts_the_coins_reached(client, spent):
    payment, payer, host_a, host_b = spent
    # host B already cashed out part of what they earned (180 of their 180): only host A's remains
    cashout_request(host=host_b, coins=180, destination_id=payout_ready(host_b))

    _settle_in_admin(client, payment, "settle_claw_back")

    # payer 200; host A's 300 earnings from the payer; host B has none left; the rest written off
    assert _entry(payment) == {
        "issuance:": 1000,
        f"user_coins:{payer.pk}": -200,
        f"host_earnings:{host_a.pk}": -300,
        "write_off:": -500,
    }
    assert user_balances(user=host_a)["earnings"] == 0
    assert user_balances(user=host_b)["earnings"] == 0
    payment.refresh_from_db()
    assert "300 from hosts" in payment.review_reason
    _audit_clean()


def test_claw_back_never_takes_earnings_the_payer_did_not_give(monkeypatch, client):
    # given a host who also earned from someone else, and a payer who gave them 100 coins
    payer, host, other = UserFactory(), UserFactory(), UserFactory()
    fund(other, 1000)
    gift(other, host, 1000)
    payment = top_up(monkeypatch, payer, 100)
    gift(payer, host, 100)
    payment = refund_after_spending(monkeypatch, payment)

    _settle_in_admin(client, payment, "settle_claw_back")

    # then only the 60 the payer's gift earned are clawed back, and 40 are written off
    assert _entry(payment) == {"issuance:": 100, f"host_earnings:{host.pk}": -60, "write_off:": -40}
    assert user_balances(user=host)["earnings"] == 600
    _audit_clean()


def test_ban_bans_the_payer_and_writes_off(client, spent):
    payment, payer, *_ = spent
    _settle_in_admin(client, payment, "settle_ban", reason="chargeback fraud")

    payer.refresh_from_db()
    assert payer.banned_until is not None and "chargeback fraud" in payer.ban_reason
    assert _entry(payment) == {"issuance:": 1000, f"user_coins:{payer.pk}": -200, "write_off:": -800}
    _audit_clean()


def test_a_settled_payment_is_never_settled_or_refunded_again(monkeypatch, spent):
    payment, payer, *_ = spent
    finance = finance_user()
    payment_refund_settle(payment_id=payment.pk, method="write_off", reason="r", by=finance)

    with pytest.raises(RefundNotSettleable):
        payment_refund_settle(payment_id=payment.pk, method="claw_back", reason="again", by=finance)
    answering(monkeypatch, State.REFUNDED, raw="FULL_REFUND")
    assert payment_verify(payment_id=payment.pk, include_closed=True).note == "nothing to verify"
    assert JournalEntry.objects.filter(kind="topup_refund").count() == 1
    _audit_clean()


def test_only_a_refund_of_spent_coins_can_be_settled(monkeypatch):
    # a completed payment, never refunded
    payment = top_up(monkeypatch, UserFactory(), 100)
    with pytest.raises(RefundNotSettleable):
        payment_refund_settle(payment_id=payment.pk, method="write_off", reason="r", by=finance_user())
    assert not JournalEntry.objects.filter(kind="topup_refund").exists()


@pytest.mark.parametrize(("method", "reason"), [("burn_it", "r"), ("write_off", "  ")])
def test_a_settlement_needs_a_known_method_and_a_reason(spent, method, reason):
    payment, *_ = spent
    with pytest.raises(RefundNotSettleable):
        payment_refund_settle(payment_id=payment.pk, method=method, reason=reason, by=finance_user())
    payment.refresh_from_db()
    assert payment.status == Payment.Status.NEEDS_REVIEW and payment.refund_entry_id is None


def test_only_finance_settles_and_never_their_own_payment(client, monkeypatch, spent):
    payment, payer, *_ = spent
    with pytest.raises(PermissionDenied):
        payment_refund_settle(payment_id=payment.pk, method="write_off", reason="r", by=UserFactory(is_staff=True))

    own = top_up(monkeypatch, finance := finance_user(), 100)
    gift(finance, UserFactory(), 100)
    own = refund_after_spending(monkeypatch, own)
    with pytest.raises(DomainError) as refused:
        payment_refund_settle(payment_id=own.pk, method="write_off", reason="mine", by=finance)
    assert refused.value.code == "own_request"

    client.force_login(UserFactory(is_staff=True))
    response = client.post(
        "/admin/payments/paymentreview/",
        {"action": "settle_write_off", ACTION_CHECKBOX_NAME: [payment.pk], "apply": "1", "reason": "r"},
    )
    assert response.status_code == 403
    assert not JournalEntry.objects.filter(kind="topup_refund").exists()
