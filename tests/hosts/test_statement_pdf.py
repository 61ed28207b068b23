"""GET /api/v1/hosts/me/statements/<YYYY-MM>.pdf: the monthly statement a host can show a bank."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from pypdf import PdfReader

from apps.wallet.services import cashout_approve, cashout_request, ledger_rollup
from tests.accounts.factories import UserFactory
from tests.gifts.factories import LiveStreamFactory
from tests.hosts.conftest import stream_with_gifts
from tests.wallet.factories import finance_user, hold_period_over

pytestmark = pytest.mark.django_db


def _url(month) -> str:
    return f"/api/v1/hosts/me/statements/{month:%Y-%m}.pdf"


def _text(response) -> str:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_statement_shows_the_months_ledger_streams_and_cash_outs(auth_client, host, fan, momo):
    # given last month's earnings (the opening balance) and this month's streams and a paid cash-out
    month = timezone.localdate().replace(day=1)
    before = timezone.now().replace(day=1) - timedelta(days=3)
    stream_with_gifts(host, fan, momo, [10], at=before)
    first = stream_with_gifts(host, fan, momo, [3, 1], peak=7)
    second = stream_with_gifts(host, fan, momo, [5])
    ledger_rollup()
    cashout = cashout_request(host=host, coins=100)
    hold_period_over()
    cashout_approve(request_id=cashout.pk, reviewer=finance_user(), note="paid via eSewa")

    # when the host downloads this month's statement
    response = auth_client(host).get(_url(month))

    # then it is a PDF named for the month, with the host, the period and the ledger's figures
    assert response["Content-Disposition"] == f'attachment; filename="halobuzz-statement-{month:%Y-%m}.pdf"'
    text = _text(response)
    assert "Sita Rai (@sita" in text and f"user #{host.pk}" in text
    assert f"01 {month:%B %Y}" in text and "Asia/Kathmandu" in text
    assert "Opening balance 120" in text  # 10 momos last month at 60%
    assert "Earned from gifts +108" in text  # 9 momos this month
    assert "Moved to cash-outs -100" in text
    assert "Closing balance 128" in text
    # and each stream with its viewers, gifts and coins, and the paid cash-out in NPR
    assert f"#{first.pk} {first.title} 7 0 4 48" in text
    assert f"#{second.pk} {second.title} 0 0 5 60" in text
    assert f"{timezone.localdate()} 2 9 108" in text
    assert f"#{cashout.pk} 100 NPR 50.00 NPR 7.50 NPR 42.50 Paid" in text  # 15% tax withheld
    assert "Tax withheld from paid cash-outs: NPR 7.50" in text


def test_a_month_without_earnings_says_so(auth_client, host):
    LiveStreamFactory(host=host, started_at=timezone.now() - timedelta(days=400))
    text = _text(auth_client(host).get(_url(timezone.localdate().replace(day=1))))
    assert "No earnings this month" in text and "Closing balance 0" in text


def test_names_outside_latin1_do_not_break_the_pdf(auth_client, fan, momo):
    host = UserFactory(display_name="सीता राई")
    stream_with_gifts(host, fan, momo, [1])
    text = _text(auth_client(host).get(_url(timezone.localdate().replace(day=1))))
    assert "Earned from gifts +12" in text


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "1999-12", "latest"])
def test_a_bad_month_is_a_json_400(auth_client, host, month):
    LiveStreamFactory(host=host)
    response = auth_client(host).get(f"/api/v1/hosts/me/statements/{month}.pdf")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "month" in response.json()["details"]


def test_only_a_signed_in_host_gets_a_statement(api_client, auth_client, fan):
    url = _url(timezone.localdate())
    assert api_client.get(url).status_code == 401
    response = auth_client(fan).get(url)
    assert response.status_code == 403 and response.json()["code"] == "not_a_host"
