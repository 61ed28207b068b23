"""Cash-outs racing one host's earnings on real PostgreSQL: the earnings debit folds pending
credits in under the account lock, so parallel requests can never overdraw or lose a coin."""

from collections import Counter

import pytest

from apps.wallet.models import Account, CashoutRequest
from apps.wallet.selectors import account_available, ledger_audit
from apps.wallet.services import account_for_user, cashout_request, ledger_post, platform_account
from tests.accounts.factories import UserFactory
from tests.wallet.factories import payout_ready

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 30


def test_parallel_cashouts_take_exactly_the_earnings_there_are(settings, race):
    # given a host whose earnings (all still unapplied credits) cover exactly K cash-outs of 100
    settings.CASHOUT_MIN_COINS = 100
    k = 7
    host = UserFactory()
    earnings = account_for_user(user_id=host.pk, kind=Account.Kind.HOST_EARNINGS)
    revenue = platform_account(kind=Account.Kind.REVENUE)
    for i in range(k):
        ledger_post(kind="test_earning", ref=f"{host.pk}-{i}", postings=[(revenue, -100), (earnings, 100)])

    # when THREADS requests of 100 coins arrive at once
    destination_id = payout_ready(host)
    results = race([lambda: cashout_request(host=host, coins=100, destination_id=destination_id)] * THREADS)
    outcomes = Counter(result.code if isinstance(result, Exception) else "ok" for result in results)

    # then exactly K succeed, the rest are refused, nothing is left over and the ledger is sound
    assert outcomes == {"ok": k, "insufficient_earnings": THREADS - k}
    assert CashoutRequest.objects.filter(host=host).count() == k
    earnings.refresh_from_db()
    assert account_available(account=earnings) == 0
    assert ledger_audit() == []
