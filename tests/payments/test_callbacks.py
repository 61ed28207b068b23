"""Forged, tampered and replayed callbacks credit nothing, and are recorded."""

import threading
from urllib.parse import quote

import pytest
import requests
from django.db import connection

from apps.payments.models import GatewayExchange, Payment
from apps.payments.signing import esewa_sign
from apps.wallet.models import JournalEntry
from apps.wallet.selectors import coins_balance
from tests.payments.conftest import decode_esewa_data, encode_esewa_data, esewa_pay, khalti_pay, payment_of

SUCCESS = "/payments/callback/esewa/success/?data="


def _callback_outcomes(payment: Payment) -> list[str]:
    return list(payment.exchanges.filter(kind=GatewayExchange.Kind.CALLBACK).values_list("outcome", flat=True))


@pytest.mark.django_db(transaction=True)
def test_tampered_amount_with_the_old_signature_is_rejected(sandbox, user, package, start_payment):
    # given a payer who confirmed and holds the genuine signed callback
    body = start_payment(user, package, "esewa")
    redirect = esewa_pay(body, follow=False)
    fields = decode_esewa_data(redirect.headers["Location"])

    # when the amount is edited and the old signature kept
    forged = {**fields, "total_amount": "5000.0"}
    response = requests.get(sandbox.url + SUCCESS + quote(encode_esewa_data(forged)), timeout=30)

    # then nothing is credited or even queued, and the attempt is recorded
    assert 'data-status="unknown"' in response.text
    payment = payment_of(body)
    assert payment.status == Payment.Status.INITIATED
    assert coins_balance(user_id=user.pk) == 0
    assert _callback_outcomes(payment) == ["rejected: bad signature"]
    assert not payment.exchanges.filter(kind=GatewayExchange.Kind.STATUS).exists()


@pytest.mark.django_db(transaction=True)
def test_callback_pointed_at_another_payment_is_rejected(sandbox, user, other_user, package, start_payment):
    # given one paid callback and someone else's unpaid payment
    paid = start_payment(user, package, "esewa")
    fields = decode_esewa_data(esewa_pay(paid, follow=False).headers["Location"])
    victim = start_payment(other_user, package, "esewa")

    # when the transaction id is swapped for the other payment's
    forged = {**fields, "transaction_uuid": victim["merchant_ref"]}
    requests.get(sandbox.url + SUCCESS + quote(encode_esewa_data(forged)), timeout=30)

    # then neither payment is credited
    assert coins_balance(user_id=other_user.pk) == coins_balance(user_id=user.pk) == 0
    assert _callback_outcomes(payment_of(victim)) == ["rejected: bad signature"]
    assert not JournalEntry.objects.filter(kind="topup").exists()


@pytest.mark.django_db(transaction=True)
def test_forged_signature_and_garbage_are_rejected(sandbox, user, package, start_payment):
    body = start_payment(user, package, "esewa")
    forged = {
        "transaction_code": "FAKE123",
        "status": "COMPLETE",
        "total_amount": "500.0",
        "transaction_uuid": body["merchant_ref"],
        "product_code": "EPAYTEST",
        "signed_field_names": "transaction_code,status,total_amount,transaction_uuid,product_code,signed_field_names",
    }
    forged["signature"] = esewa_sign(fields=forged, signed_field_names=forged["signed_field_names"], secret="guessed")

    requests.get(sandbox.url + SUCCESS + quote(encode_esewa_data(forged)), timeout=30)
    requests.get(sandbox.url + SUCCESS + "not-base64!!", timeout=30)

    assert coins_balance(user_id=user.pk) == 0
    assert _callback_outcomes(payment_of(body)) == ["rejected: bad signature"]
    assert GatewayExchange.objects.filter(payment=None, outcome="undecodable").count() == 1


@pytest.mark.django_db(transaction=True)
def test_genuine_callback_whose_status_reply_differs_credits_nothing(sandbox, user, package, start_payment):
    # given a genuinely signed callback, but the status API reports another amount
    from tests.payments.conftest import scenario

    body = start_payment(user, package, "esewa")
    scenario(payment_of(body), amount_paisa=100)

    # when the payer's browser follows it
    esewa_pay(body)

    # then the payment goes to review, uncredited
    payment = payment_of(body)
    assert payment.status == Payment.Status.NEEDS_REVIEW
    assert "amount 100 paisa" in payment.review_reason
    assert coins_balance(user_id=user.pk) == 0


@pytest.mark.django_db(transaction=True)
def test_forged_khalti_completed_while_lookup_says_initiated(sandbox, user, package, start_payment):
    # given a Khalti payment the payer never paid
    body = start_payment(user, package, "khalti")
    pidx = body["checkout"]["pidx"]

    # when someone sends the return URL with status=Completed
    url = f"{sandbox.url}/payments/callback/khalti/?pidx={pidx}&status=Completed&transaction_id=X&amount=50000"
    requests.get(url + f"&purchase_order_id={body['merchant_ref']}", timeout=30)

    # then the lookup (Initiated) decides: nothing credited
    payment = payment_of(body)
    assert payment.status == Payment.Status.PENDING
    assert payment.last_gateway_status == "Initiated"
    assert coins_balance(user_id=user.pk) == 0


@pytest.mark.django_db(transaction=True)
def test_khalti_callback_with_unknown_pidx_or_foreign_order_is_rejected(sandbox, user, package, start_payment):
    body = start_payment(user, package, "khalti")
    pidx = body["checkout"]["pidx"]

    requests.get(f"{sandbox.url}/payments/callback/khalti/?pidx=nope&status=Completed", timeout=30)
    requests.get(f"{sandbox.url}/payments/callback/khalti/?pidx={pidx}&purchase_order_id=other", timeout=30)

    payment = payment_of(body)
    assert _callback_outcomes(payment) == ["rejected: purchase_order_id is not this pidx's"]
    assert GatewayExchange.objects.filter(payment=None, outcome="rejected: unknown pidx").count() == 1
    assert not payment.exchanges.filter(kind=GatewayExchange.Kind.STATUS).exists()


@pytest.mark.django_db(transaction=True)
def test_same_callback_twice_credits_once(sandbox, user, package, start_payment):
    body = start_payment(user, package, "esewa")
    callback = esewa_pay(body, follow=False).headers["Location"]

    first = requests.get(callback, timeout=30)
    second = requests.get(callback, timeout=30)

    assert 'data-status="completed"' in first.text and 'data-status="completed"' in second.text
    assert coins_balance(user_id=user.pk) == 525
    assert JournalEntry.objects.filter(kind="topup").count() == 1
    assert len(_callback_outcomes(payment_of(body))) == 2


@pytest.mark.django_db(transaction=True)
def test_same_khalti_callback_concurrently_credits_once(sandbox, user, package, start_payment, settings):
    # given the return URL of a paid Khalti payment, and a slow lookup so both requests overlap
    from tests.payments.conftest import scenario

    body = start_payment(user, package, "khalti")
    callback = khalti_pay(body, follow=False).headers["Location"]
    scenario(payment_of(body), delay=0.3)
    settings.PAYMENT_GATEWAY_TIMEOUT = 5.0  # overlapping, never timing out
    barrier = threading.Barrier(4)
    statuses = []

    def hit():
        barrier.wait()
        statuses.append(requests.get(callback, timeout=30).status_code)

    # when four browsers deliver it at once
    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one credit
    assert statuses == [200, 200, 200, 200]
    assert coins_balance(user_id=user.pk) == 525
    assert JournalEntry.objects.filter(kind="topup").count() == 1
    assert payment_of(body).status == Payment.Status.COMPLETED
    connection.close()
