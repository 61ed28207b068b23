"""A real browser walks the eSewa hand-off page through the sandbox to coins in the wallet."""

import pytest

from apps.payments.models import Payment
from apps.wallet.selectors import coins_balance
from tests.payments.conftest import payment_of


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_esewa_handoff_to_coins_in_the_wallet(sandbox, page, user, package, start_payment, settings):
    # The hand-off page loads its script from a static file. The live server serves static files by
    # their source names (staticfiles finders), not the hashed names of the production manifest.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # given a payment started by the app, which opens the hand-off page in a web view
    body = start_payment(user, package, "esewa")

    # when the page auto-submits the signed form, and the payer confirms at the sandbox
    page.goto(body["checkout"]["handoff_url"])
    page.wait_for_selector("#confirm")
    assert "NPR 500" in page.inner_text("#amount")
    page.click("#confirm")

    # then the browser lands on our result page, and the wallet holds the coins plus bonus
    page.wait_for_selector('#payment-status[data-status="completed"]')
    assert "500 + 25 bonus coins added" in page.inner_text("#payment-status")
    assert payment_of(body).status == Payment.Status.COMPLETED
    assert coins_balance(user_id=user.pk) == 525
