"""Finance's admin: payments with the raw exchange, re-verify, review queue, daily totals."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from apps.payments.models import Payment
from apps.wallet.selectors import coins_balance
from tests.accounts.factories import UserFactory
from tests.payments.conftest import esewa_pay, payment_of, scenario


@pytest.fixture
def finance_client(client, db):
    call_command("bootstrap_roles", verbosity=0)
    staff = UserFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name="Finance"))
    client.force_login(staff)
    return client


@pytest.mark.django_db(transaction=True)
def test_finance_reverifies_a_flagged_payment_from_the_review_queue(
    sandbox, finance_client, user, package, start_payment
):
    # given a paid payment flagged because the gateway was ambiguous
    body = start_payment(user, package, "esewa")
    scenario(payment_of(body), ambiguous=True)
    esewa_pay(body)
    payment = payment_of(body)
    assert payment.status == Payment.Status.NEEDS_REVIEW

    # then it shows in the review queue and the payment page shows the raw exchange
    queue = finance_client.get("/admin/payments/paymentreview/")
    assert (
        queue.status_code == 200
        and payment.merchant_ref in queue.content.decode()
        or "ambiguous" in queue.content.decode()
    )
    page = finance_client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
    assert "AMBIGUOUS" in page and "signature valid; verification queued" in page

    # when the gateway settles and Finance re-verifies
    scenario(payment, ambiguous=False)
    response = finance_client.post(
        "/admin/payments/paymentreview/", {"action": "reverify", "_selected_action": [payment.pk]}, follow=True
    )

    # then the coins are credited
    assert "needs_review → completed" in response.content.decode()
    assert payment_of(body).status == Payment.Status.COMPLETED
    assert coins_balance(user_id=user.pk) == 525
    totals = finance_client.get("/admin/payments/dailytotal/").content.decode()
    assert "<td>esewa</td><td>1</td><td>1</td>" in totals and "<td>500.00</td>" in totals


@pytest.mark.django_db
def test_payment_admin_lists_with_filters(finance_client):
    for query in ("", "?gateway__exact=esewa", "?status__exact=completed", "?created_at__year=2026"):
        assert finance_client.get("/admin/payments/payment/" + query).status_code == 200
