"""Verification: retries, ambiguity, concurrency, reconciliation, expiry and refunds."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.payments.models import GatewayExchange, Payment
from apps.payments.services import payment_verify
from apps.payments.tasks import payment_verify_task
from apps.wallet.models import Account, JournalEntry
from apps.wallet.selectors import coins_balance
from apps.wallet.services import account_for_user, ledger_post, platform_account
from tests.payments.conftest import esewa_pay, khalti_pay, payment_of, scenario


def _status_calls(payment: Payment) -> list[tuple[int | None, str]]:
    return list(
        payment.exchanges.filter(kind=GatewayExchange.Kind.STATUS)
        .order_by("id")
        .values_list("response_status", "error")
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["esewa", "khalti"])
def test_timeout_then_success_credits_once(sandbox, settings, user, package, start_payment, gateway):
    # given a gateway whose first status query hangs past our (short) timeout
    body = start_payment(user, package, gateway)
    settings.PAYMENT_GATEWAY_TIMEOUT = 2.0
    scenario(payment_of(body), timeout_polls=1)

    # when the payer comes back
    (esewa_pay if gateway == "esewa" else khalti_pay)(body)

    # then the task retried and credited once
    payment = payment_of(body)
    assert payment.status == Payment.Status.COMPLETED
    assert _status_calls(payment) == [(None, "timeout"), (200, "")]
    assert coins_balance(user_id=user.pk) == 525
    assert JournalEntry.objects.filter(kind="topup").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["esewa", "khalti"])
def test_outage_then_success_credits_once(sandbox, user, package, start_payment, gateway):
    body = start_payment(user, package, gateway)
    scenario(payment_of(body), outage_polls=2)

    (esewa_pay if gateway == "esewa" else khalti_pay)(body)

    payment = payment_of(body)
    assert payment.status == Payment.Status.COMPLETED
    assert [status for status, _ in _status_calls(payment)] == [503, 503, 200]
    assert coins_balance(user_id=user.pk) == 525


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["esewa", "khalti"])
def test_ambiguous_after_retries_goes_to_review(sandbox, user, package, start_payment, gateway):
    body = start_payment(user, package, gateway)
    scenario(payment_of(body), ambiguous=True)

    (esewa_pay if gateway == "esewa" else khalti_pay)(body)

    payment = payment_of(body)
    assert payment.status == Payment.Status.NEEDS_REVIEW
    assert "ambiguous" in payment.review_reason
    assert len(_status_calls(payment)) == 3  # the first try and PAYMENT_VERIFY_MAX_RETRIES=2 retries
    assert coins_balance(user_id=user.pk) == 0


@pytest.mark.django_db(transaction=True)
def test_outage_through_all_retries_leaves_it_pending_for_reconciliation(sandbox, user, package, start_payment):
    body = start_payment(user, package, "esewa")
    scenario(payment_of(body), bad_json_polls=1, outage_polls=3)

    esewa_pay(body)

    payment = payment_of(body)
    assert payment.status == Payment.Status.INITIATED
    assert coins_balance(user_id=user.pk) == 0

    # and the next reconciliation finds it complete
    call_command("reconcile_payments")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.COMPLETED
    assert coins_balance(user_id=user.pk) == 525


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["esewa", "khalti"])
def test_pending_payment_is_completed_by_reconciliation(sandbox, user, package, start_payment, gateway, capsys):
    # given a paid payment the gateway still reports as pending through every retry
    body = start_payment(user, package, gateway)
    scenario(payment_of(body), pending_polls=3)
    (esewa_pay if gateway == "esewa" else khalti_pay)(body)
    payment = payment_of(body)
    assert payment.status == Payment.Status.PENDING
    assert coins_balance(user_id=user.pk) == 0

    # when reconciliation runs
    call_command("reconcile_payments")

    # then it is completed, credited once, and the command says so
    payment.refresh_from_db()
    assert payment.status == Payment.Status.COMPLETED
    assert coins_balance(user_id=user.pk) == 525
    out = capsys.readouterr().out
    assert f"payment #{payment.pk}: pending -> completed" in out
    assert "1 payment(s) changed." in out

    # and running it again changes nothing
    call_command("reconcile_payments")
    assert "0 payment(s) changed." in capsys.readouterr().out
    assert JournalEntry.objects.filter(kind="topup").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_verify_tasks_at_once_credit_once(sandbox, user, package, start_payment, settings):
    # given a payer who confirmed (callback not delivered) and a slow status API
    settings.PAYMENT_GATEWAY_TIMEOUT = 5.0  # slow enough to overlap, never slow enough to time out
    body = start_payment(user, package, "esewa")
    esewa_pay(body, follow=False)
    payment = payment_of(body)
    scenario(payment, delay=0.3)
    barrier = threading.Barrier(3)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            # .result, not .get(): Celery's "join will block" flag is process-global and eager tasks
            # run concurrently in the live server's threads may leave it set.
            results.append(payment_verify_task.apply(args=[payment.pk]).result)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    # when three verify tasks run at the same moment
    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then all see it completed and it was credited once
    assert errors == []
    assert results == ["completed"] * 3
    assert _status_calls(payment) == [(200, "")] * 3
    assert coins_balance(user_id=user.pk) == 525
    assert JournalEntry.objects.filter(kind="topup", ref=str(payment.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_stale_unpaid_payments_expire(sandbox, user, package, start_payment, settings):
    # given an eSewa form never submitted and a Khalti link never paid, both past the window
    esewa = payment_of(start_payment(user, package, "esewa"))
    khalti = payment_of(start_payment(user, package, "khalti"))
    fresh = payment_of(start_payment(user, package, "esewa"))
    scenario(khalti, expired=True)
    old = timezone.now() - timedelta(minutes=settings.PAYMENT_PENDING_EXPIRY_MINUTES + 1)
    Payment.objects.filter(pk__in=[esewa.pk, khalti.pk]).update(created_at=old)

    call_command("reconcile_payments")

    esewa.refresh_from_db()
    khalti.refresh_from_db()
    fresh.refresh_from_db()
    assert esewa.status == Payment.Status.EXPIRED
    assert khalti.status == Payment.Status.EXPIRED
    assert khalti.last_gateway_status == "Expired"
    assert fresh.status == Payment.Status.INITIATED


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["esewa", "khalti"])
def test_refund_takes_the_coins_back(sandbox, user, package, start_payment, gateway):
    # given a credited payment that the gateway later refunds
    body = start_payment(user, package, gateway)
    (esewa_pay if gateway == "esewa" else khalti_pay)(body)
    assert coins_balance(user_id=user.pk) == 525
    scenario(payment_of(body), refund="full")

    # when reconciliation looks at recent completed payments
    call_command("reconcile_payments")
    call_command("reconcile_payments")

    # then one reversing entry took the coins back
    payment = payment_of(body)
    assert payment.status == Payment.Status.REFUNDED
    assert coins_balance(user_id=user.pk) == 0
    assert JournalEntry.objects.filter(kind="topup_refund", ref=str(payment.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_refund_of_spent_coins_goes_to_finance(sandbox, user, package, start_payment):
    # given a credited payment whose coins were mostly spent
    body = start_payment(user, package, "khalti")
    khalti_pay(body)
    ledger_post(
        kind="gift",
        ref="spent-1",
        postings=[(account_for_user(user_id=user.pk), -500), (platform_account(kind=Account.Kind.REVENUE), 500)],
    )
    scenario(payment_of(body), refund="full")

    call_command("reconcile_payments")

    payment = payment_of(body)
    assert payment.status == Payment.Status.NEEDS_REVIEW
    assert "spent the coins" in payment.review_reason
    assert coins_balance(user_id=user.pk) == 25
    assert not JournalEntry.objects.filter(kind="topup_refund").exists()


@pytest.mark.django_db(transaction=True)
def test_partial_refund_is_flagged(sandbox, user, package, start_payment):
    body = start_payment(user, package, "esewa")
    esewa_pay(body)
    scenario(payment_of(body), refund="partial")

    call_command("reconcile_payments")

    payment = payment_of(body)
    assert payment.status == Payment.Status.NEEDS_REVIEW
    assert "partial refund" in payment.review_reason
    assert coins_balance(user_id=user.pk) == 525


@pytest.mark.django_db(transaction=True)
def test_reused_gateway_transaction_id_is_flagged(sandbox, user, other_user, package, start_payment):
    # given one completed payment
    first = payment_of(start_payment(user, package, "esewa"))
    esewa_pay({"checkout": _checkout(first)})
    first.refresh_from_db()
    # and a second one for which the gateway reports the first's transaction id
    second = payment_of(start_payment(other_user, package, "esewa"))
    esewa_pay({"checkout": _checkout(second)}, follow=False)
    from apps.payments.sandbox import state

    txn = state.txn_get("esewa", second.merchant_ref)
    state.txn_put("esewa", second.merchant_ref, {**txn, "ref_id": first.gateway_txn_id})

    outcome = payment_verify(payment_id=second.pk)

    assert outcome.after == Payment.Status.NEEDS_REVIEW
    second.refresh_from_db()
    assert f"already used by payment #{first.pk}" in second.review_reason
    assert coins_balance(user_id=other_user.pk) == 0


def _checkout(payment: Payment) -> dict:
    from apps.payments.selectors import payment_checkout

    return payment_checkout(payment=payment)
