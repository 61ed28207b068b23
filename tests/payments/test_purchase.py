"""The whole purchase through the sandbox over real HTTP, for both gateways."""

import pytest

from apps.payments.models import GatewayExchange, Payment
from apps.wallet.models import JournalEntry
from apps.wallet.selectors import coins_balance
from tests.payments.conftest import esewa_pay, khalti_pay, payment_of


@pytest.mark.django_db(transaction=True)
def test_esewa_purchase_credits_coins_and_bonus_once(sandbox, user, package, start_payment):
    # given a payment started through the API
    body = start_payment(user, package, "esewa")
    assert body["status"] == "initiated"
    assert body["checkout"]["type"] == "esewa_form"
    assert body["checkout"]["fields"]["total_amount"] == "500"
    assert body["checkout"]["handoff_url"].startswith(sandbox.url)

    # when the payer confirms at eSewa and the browser follows the success redirect
    result = esewa_pay(body)

    # then the status API was asked and the coins plus bonus were credited once
    assert result.status_code == 200
    assert 'data-status="completed"' in result.text
    payment = payment_of(body)
    assert payment.status == Payment.Status.COMPLETED
    assert payment.gateway_txn_id
    assert coins_balance(user_id=user.pk) == 525
    assert JournalEntry.objects.filter(kind="topup", ref=str(payment.pk)).count() == 1
    kinds = list(payment.exchanges.order_by("id").values_list("kind", flat=True))
    assert kinds == [GatewayExchange.Kind.FORM, GatewayExchange.Kind.CALLBACK, GatewayExchange.Kind.STATUS]


@pytest.mark.django_db(transaction=True)
def test_khalti_purchase_credits_coins_and_bonus_once(sandbox, user, package, start_payment):
    # given a payment the server initiated at Khalti with its secret key
    body = start_payment(user, package, "khalti")
    assert body["checkout"]["type"] == "khalti_redirect"
    payment = payment_of(body)
    assert payment.gateway_ref == body["checkout"]["pidx"]

    # when the payer pays and comes back through the return URL
    result = khalti_pay(body)

    # then the lookup API confirmed it and the coins were credited once
    assert result.status_code == 200
    assert 'data-status="completed"' in result.text
    payment.refresh_from_db()
    assert payment.status == Payment.Status.COMPLETED
    assert coins_balance(user_id=user.pk) == 525
    assert JournalEntry.objects.filter(kind="topup", ref=str(payment.pk)).count() == 1
    assert list(payment.exchanges.order_by("id").values_list("kind", flat=True)) == [
        GatewayExchange.Kind.INITIATE,
        GatewayExchange.Kind.CALLBACK,
        GatewayExchange.Kind.STATUS,
    ]


@pytest.mark.django_db(transaction=True)
def test_payer_cancels_at_esewa_nothing_is_credited(sandbox, user, package, start_payment):
    body = start_payment(user, package, "esewa")

    result = esewa_pay(body, confirm=False)

    assert 'data-status="canceled"' in result.text
    assert payment_of(body).status == Payment.Status.CANCELED
    assert coins_balance(user_id=user.pk) == 0


@pytest.mark.django_db(transaction=True)
def test_payer_cancels_at_khalti_lookup_marks_it_canceled(sandbox, user, package, start_payment):
    body = start_payment(user, package, "khalti")

    result = khalti_pay(body, confirm=False)

    assert 'data-status="canceled"' in result.text
    payment = payment_of(body)
    assert payment.status == Payment.Status.CANCELED
    assert payment.last_gateway_status == "User canceled"
    assert coins_balance(user_id=user.pk) == 0
