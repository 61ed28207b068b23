"""While a fraud case on a host is open, the host's cash-outs wait: shown as held with the reason in
the API and the admin, refused by approval; Finance's decision releases them."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from apps.core.exceptions import DomainError
from apps.fraud.models import FraudCase
from apps.fraud.services import fraud_case_decide, fraud_rules_run
from apps.wallet.exceptions import CashoutHeld
from apps.wallet.models import CashoutHold, CashoutRequest
from apps.wallet.selectors import ledger_audit, user_balances
from apps.wallet.services import cashout_approve
from tests.accounts.factories import UserFactory
from tests.fraud.factories import finance_user, gift
from tests.wallet.factories import fund, hold_period_over, payout_ready

pytestmark = pytest.mark.django_db

REASON = "Recent large gifts from new accounts are being reviewed."


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.GIFT_HOST_SHARE_PERCENT, settings.CASHOUT_MIN_COINS = 60, 100
    settings.FRAUD_BURST_GIFT_COINS, settings.FRAUD_BURST_MIN_SENDERS, settings.FRAUD_BURST_MIN_COINS = 500, 3, 1500
    settings.ADMIN_REQUIRE_2FA = False


@pytest.fixture
def held_host(auth_client):
    """A new host who earned 1,800 coins from three new accounts, asked to cash out 1,000, and is now
    under a fraud case (burst)."""
    host = UserFactory()
    for _ in range(3):
        sender = UserFactory()
        fund(sender, 1000)
        gift(sender, host, 1000)
    response = auth_client(host).post(
        "/api/v1/wallet/cashouts/",
        {"coins": 1000, "destination_id": payout_ready(host)},
        format="json",
        HTTP_IDEMPOTENCY_KEY="c-1",
    )
    assert response.status_code == 201 and response.json()["held"] is False
    hold_period_over()  # what is tested here is the fraud hold, not the hold period
    assert len(fraud_rules_run()) == 1
    return host


def test_the_host_sees_the_cashout_held_with_the_reason(auth_client, held_host):
    # when the host lists their cash-outs, and asks for another
    listed = auth_client(held_host).get("/api/v1/wallet/cashouts/").json()["results"]
    second = auth_client(held_host).post(
        "/api/v1/wallet/cashouts/",
        {"coins": 200, "destination_id": payout_ready(held_host)},
        format="json",
        HTTP_IDEMPOTENCY_KEY="c-2",
    )

    # then both wait, held, with the reason
    assert [(c["status"], c["held"], c["hold_reasons"]) for c in listed] == [("requested", True, [REASON])]
    assert second.status_code == 201
    assert (second.json()["held"], second.json()["hold_reasons"]) == (True, [REASON])


def test_the_reason_is_shown_in_nepali(auth_client, held_host):
    listed = auth_client(held_host).get("/api/v1/wallet/cashouts/", HTTP_ACCEPT_LANGUAGE="ne").json()["results"]
    assert listed[0]["held"] is True
    assert listed[0]["hold_reasons"] != [REASON] and listed[0]["hold_reasons"][0].strip()


def test_approval_is_refused_while_the_case_is_open(held_host):
    cashout = CashoutRequest.objects.get(host=held_host)
    with pytest.raises(CashoutHeld) as refused:
        cashout_approve(request_id=cashout.pk, reviewer=finance_user())
    assert refused.value.details == {"cashout_id": cashout.pk, "reasons": [REASON]}
    cashout.refresh_from_db()
    assert cashout.status == CashoutRequest.Status.REQUESTED


def test_admin_shows_the_hold_and_refuses_to_pay(client, held_host):
    cashout = CashoutRequest.objects.get(host=held_host)
    client.force_login(finance_user())

    page = client.get("/admin/wallet/cashoutrequest/").content.decode()
    assert "held for review" in page

    # the admin pays only through batches: the held cash-out, past its hold period, stays out
    response = client.post("/admin/wallet/payoutbatch/add/", {"rail": "esewa"}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("Nothing is due on this rail yet." in m for m in shown), shown
    cashout.refresh_from_db()
    assert cashout.status == CashoutRequest.Status.REQUESTED
    assert REASON in client.get(f"/admin/wallet/cashouthold/?host__id__exact={held_host.pk}").content.decode()


def test_clearing_the_case_in_admin_lets_finance_pay(client, auth_client, held_host):
    # given Finance clears the case from the fraud queue (its evidence on the page)
    case = FraudCase.objects.get()
    finance = finance_user()
    client.force_login(finance)
    detail = client.get(f"/admin/fraud/fraudcase/{case.pk}/change/").content.decode()
    assert "total_coins" in detail and "from 3 accounts" in detail
    response = client.post("/admin/fraud/fraudcase/", {"action": "clear", ACTION_CHECKBOX_NAME: [case.pk]}, follow=True)
    assert any("Cleared: 1 case(s)" in str(m) for m in response.context["messages"])

    # then the cash-out shows no hold and can be paid
    case.refresh_from_db()
    assert (case.status, case.decided_by) == (FraudCase.Status.CLEARED, finance)
    assert auth_client(held_host).get("/api/v1/wallet/cashouts/").json()["results"][0]["held"] is False
    cashout = CashoutRequest.objects.get(host=held_host)
    assert cashout_approve(request_id=cashout.pk, reviewer=finance).status == CashoutRequest.Status.APPROVED
    assert ledger_audit() == []


def test_confirming_fraud_rejects_the_waiting_cashouts(held_host):
    case = FraudCase.objects.get()
    fraud_case_decide(case_id=case.pk, by=finance_user(), confirmed=True, note="sock puppets")

    cashout = CashoutRequest.objects.get(host=held_host)
    assert cashout.status == CashoutRequest.Status.REJECTED
    assert cashout.review_note == f"Fraud case #{case.pk}: sock puppets"
    assert user_balances(user=held_host)["earnings"] == 1800  # back where a claw back can reach it
    assert not CashoutHold.objects.filter(host=held_host, released_at__isnull=True).exists()
    assert ledger_audit() == []


def test_a_decided_case_does_not_reopen_on_the_same_evidence(held_host):
    fraud_case_decide(case_id=FraudCase.objects.get().pk, by=finance_user(), confirmed=False, note="")
    assert fraud_rules_run() == []
    assert FraudCase.objects.count() == 1
    # but new activity after the decision opens a new case
    sender = UserFactory(date_joined=timezone.now() - timedelta(hours=1))
    fund(sender, 1000)
    gift(sender, held_host, 1000)
    assert len(fraud_rules_run()) == 1
    assert FraudCase.objects.filter(status=FraudCase.Status.OPEN).count() == 1


@pytest.mark.parametrize("who", ["staff_outside_finance", "the_host", "a_viewer"])
def test_only_finance_decides_and_never_about_themselves(client, held_host, who):
    case = FraudCase.objects.get()
    actor = {"staff_outside_finance": lambda: UserFactory(is_staff=True), "a_viewer": UserFactory}.get(who)
    if who == "the_host":
        finance_user()  # the Finance group exists
        held_host.is_staff = True
        held_host.save(update_fields=["is_staff"])
        held_host.groups.add(*finance_user().groups.all())
        user = held_host
    else:
        user = actor()
    with pytest.raises(DomainError) as refused:
        fraud_case_decide(case_id=case.pk, by=user, confirmed=False, note="")
    assert refused.value.status == 403
    if user.is_staff:
        client.force_login(user)
        response = client.post("/admin/fraud/fraudcase/", {"action": "clear", ACTION_CHECKBOX_NAME: [case.pk]})
        assert response.status_code in (302, 403)
    case.refresh_from_db()
    assert case.status == FraudCase.Status.OPEN
    assert CashoutHold.objects.filter(host=held_host, released_at__isnull=True).exists()
