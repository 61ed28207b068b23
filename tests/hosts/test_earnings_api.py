"""GET /api/v1/hosts/me/earnings/: a host's earnings per stream and per Nepal-time day, from the ledger."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gifts.services import gift_send
from apps.live.models import StreamViewer
from apps.wallet.models import Account, Posting
from apps.wallet.selectors import user_balances
from apps.wallet.services import cashout_approve, cashout_reject, cashout_request, ledger_rollup
from tests.accounts.factories import UserFactory
from tests.gifts.factories import LiveStreamFactory
from tests.hosts.conftest import clock_at, stream_with_gifts
from tests.wallet.factories import finance_user, hold_period_over

pytestmark = pytest.mark.django_db

URL = "/api/v1/hosts/me/earnings/"


def _get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def _ledger_movement(host, since: datetime, until: datetime) -> int:
    """Straight from the postings: what the host's earnings account moved by in [since, until)."""
    total = Posting.objects.filter(
        account__owner=host,
        account__kind=Account.Kind.HOST_EARNINGS,
        entry__created_at__gte=since,
        entry__created_at__lt=until,
    ).aggregate(total=Sum("amount"))["total"]
    return total or 0


def test_earnings_per_stream_and_day_are_the_hosts_share_from_the_ledger(auth_client, host, fan, momo):
    # given two streams today (3 + 1 momos, then 5), viewers on the first, and a cash-out
    first = stream_with_gifts(host, fan, momo, [3, 1], peak=7)
    second = stream_with_gifts(host, fan, momo, [5])
    for viewer in UserFactory.create_batch(2):
        StreamViewer.objects.create(stream=first, user=viewer, joined_at=timezone.now())
    ledger_rollup()
    cashout_request(host=host, coins=30)

    # when the host asks for the last 7 days
    body = _get(auth_client(host), period="7d")

    # then each stream shows its gifts and the host's 60% share (not the 20-coin price)
    today = timezone.localdate()
    assert body["period"] == {"from": str(today - timedelta(days=6)), "to": str(today), "time_zone": "Asia/Kathmandu"}
    streams = {row["id"]: row for row in body["streams"]}
    assert streams[first.pk]["gift_sends"] == 2 and streams[first.pk]["gifts"] == 4
    assert streams[first.pk]["coins_earned"] == 4 * 20 * 60 // 100 == 48
    assert (streams[first.pk]["peak_viewers"], streams[first.pk]["unique_viewers"]) == (7, 2)
    assert (streams[second.pk]["gifts"], streams[second.pk]["coins_earned"]) == (5, 60)
    assert streams[second.pk]["title"] == second.title and streams[second.pk]["status"] == "ended"
    assert body["days"] == [
        {"date": str(today), "gift_sends": 3, "gifts": 9, "coins_earned": 108, "streams": 2, "peak_viewers": 7}
    ]
    assert body["totals"] == {"streams": 2, "gift_sends": 3, "gifts": 9, "coins_earned": 108}
    # and the ledger part is the account's movement: gifts in, the cash-out out
    ledger = body["ledger"]
    assert ledger["gifts"] == 108 and ledger["cashouts_requested"] == -30
    assert ledger["movements"] == {"gift": 108, "cashout_request": -30}
    assert ledger["opening_balance"] == 0 and ledger["closing_balance"] == 78 == user_balances(user=host)["earnings"]
    assert body["payouts"]["by_status"] == {"requested": {"count": 1, "coins": 30, "amount_paisa": 1500}}
    assert body["payouts"]["tax_withheld_paisa"] == 0  # withheld when paid
    (line,) = body["payouts"]["cashouts"]
    assert (line["amount_paisa"], line["tax_paisa"], line["net_paisa"]) == (1500, 250, 1250)  # 15%: 4.5 coins, up


def test_the_figures_add_up_to_the_ledgers_movement_for_the_period(auth_client, host, fan, momo):
    # given earnings before the period, in it (a rejected and a paid cash-out too) and after it
    now = timezone.now()
    stream_with_gifts(host, fan, momo, [10], at=now - timedelta(days=40))
    stream_with_gifts(host, fan, momo, [2, 3], at=now - timedelta(days=12))
    stream_with_gifts(host, fan, momo, [1], at=now - timedelta(days=3))
    stream_with_gifts(host, fan, momo, [4])
    ledger_rollup()
    paid = cashout_request(host=host, coins=20)
    rejected = cashout_request(host=host, coins=15)
    hold_period_over()
    cashout_approve(request_id=paid.pk, reviewer=finance_user())
    cashout_reject(request_id=rejected.pk, reviewer=finance_user(), note="name mismatch")
    first, last = timezone.localdate() - timedelta(days=20), timezone.localdate() - timedelta(days=1)

    # when the host asks for a period that leaves out the oldest and the newest streams
    body = _get(auth_client(host), **{"from": str(first), "to": str(last)})

    # then the per-stream coins, the per-day coins and the ledger's gift credits all agree
    since = datetime.combine(first, datetime.min.time(), tzinfo=timezone.get_current_timezone())
    until = since + timedelta(days=(last - first).days + 1)
    gifts_in_period = (2 + 3 + 1) * 12
    assert sum(row["coins_earned"] for row in body["streams"]) == gifts_in_period
    assert sum(row["coins_earned"] for row in body["days"]) == gifts_in_period == body["ledger"]["gifts"]
    # and opening + movement = closing, each straight from the postings
    ledger = body["ledger"]
    assert ledger["opening_balance"] == _ledger_movement(host, datetime(2000, 1, 1, tzinfo=UTC), since) == 120
    assert ledger["closing_balance"] - ledger["opening_balance"] == _ledger_movement(host, since, until)
    assert sum(ledger["movements"].values()) == _ledger_movement(host, since, until) == gifts_in_period
    assert body["payouts"]["by_status"] == {}  # the cash-outs were today, after the period

    # and over the last 7 days the cash-outs show with their statuses, and the balance is today's
    week = _get(auth_client(host), period="7d")
    assert week["payouts"]["by_status"] == {
        "approved": {"count": 1, "coins": 20, "amount_paisa": 1000},
        "rejected": {"count": 1, "coins": 15, "amount_paisa": 750},
    }
    assert [line["status"] for line in week["payouts"]["cashouts"]] == ["approved", "rejected"]
    assert week["ledger"]["movements"] == {"gift": 60, "cashout_request": -35, "cashout_rejected": 15}
    assert week["ledger"]["closing_balance"] == user_balances(user=host)["earnings"] == 120 + 72 + 48 - 20


def test_days_are_nepal_calendar_days(auth_client, host, fan, momo):
    # given a send at 18:20 UTC, which is 00:05 the next day in Nepal (UTC+05:45)
    yesterday = timezone.localdate() - timedelta(days=2)
    at = datetime(yesterday.year, yesterday.month, yesterday.day, 18, 20, tzinfo=UTC)
    stream_with_gifts(host, fan, momo, [1], at=at)

    # when the host reads the earnings
    body = _get(auth_client(host), period="7d")

    # then the send counts on the Nepal day
    assert [row["date"] for row in body["days"]] == [str(yesterday + timedelta(days=1))]


def test_a_stream_that_began_before_the_period_shows_only_its_gifts_in_it(auth_client, host, fan, momo):
    # given a stream that started 10 days ago, got one send then and two today
    with clock_at(timezone.now() - timedelta(days=10)):
        stream = LiveStreamFactory(host=host, started_at=timezone.now())
        gift_send(sender_id=fan.pk, stream_id=stream.pk, gift_id=momo.pk, quantity=1)
    gift_send(sender_id=fan.pk, stream_id=stream.pk, gift_id=momo.pk, quantity=2)

    # when the host reads the last 7 days
    body = _get(auth_client(host), period="7d")

    # then the stream is listed with today's gifts only, and is not counted as started in the period
    assert [(row["id"], row["gifts"], row["coins_earned"]) for row in body["streams"]] == [(stream.pk, 2, 24)]
    assert body["totals"]["streams"] == 0 and body["days"][0]["streams"] == 0
    assert body["ledger"]["opening_balance"] == 12


def test_a_month_period(auth_client, host, fan, momo):
    this_month = timezone.localdate().replace(day=1)
    stream_with_gifts(host, fan, momo, [1])
    body = _get(auth_client(host), period=f"{this_month:%Y-%m}")
    assert body["period"]["from"] == str(this_month) and body["totals"]["coins_earned"] == 12
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    assert _get(auth_client(host), period=f"{last_month:%Y-%m}")["totals"]["coins_earned"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "week"}, "period"),
        ({"period": "2026-13"}, "period"),
        ({"period": "1999-01"}, "period"),
        ({"period": "7d", "from": "2026-01-01"}, "period"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"days": "7"}, "days"),
    ],
)
def test_bad_periods_are_refused_in_the_error_shape(auth_client, host, params, field):
    LiveStreamFactory(host=host)
    response = auth_client(host).get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["details"] and body["message"]


def test_a_future_month_is_refused(auth_client, host):
    LiveStreamFactory(host=host)
    next_month = (timezone.localdate().replace(day=28) + timedelta(days=5)).strftime("%Y-%m")
    response = auth_client(host).get(URL, {"period": next_month})
    assert response.status_code == 400 and "period" in response.json()["details"]


def test_only_a_signed_in_host_sees_earnings_and_only_their_own(api_client, auth_client, host, fan, momo):
    # given a host with earnings, another host with their own, and a viewer who never went live
    stream_with_gifts(host, fan, momo, [5])
    rival = UserFactory()
    rival_stream = stream_with_gifts(rival, fan, momo, [1])

    # then nobody signed out, and no viewer, gets any
    assert api_client.get(URL).status_code == 401
    response = auth_client(fan).get(URL)
    assert response.status_code == 403 and response.json()["code"] == "not_a_host"
    # and the other host sees only their own stream and coins
    body = _get(auth_client(rival))
    assert [row["id"] for row in body["streams"]] == [rival_stream.pk]
    assert body["totals"]["coins_earned"] == 12 and body["ledger"]["closing_balance"] == 12


def test_queries_do_not_grow_with_streams_days_or_gifts(auth_client, host, fan, momo):
    def queries() -> int:
        client = auth_client(host)
        with CaptureQueriesContext(connection) as captured:
            _get(client, period="30d")
        return len(captured)

    stream_with_gifts(host, fan, momo, [1])
    few = queries()
    now = timezone.now()
    for days_ago in range(1, 8):
        stream_with_gifts(host, fan, momo, [1, 2, 3], at=now - timedelta(days=days_ago))
    cashout_request(host=host, coins=10)
    cashout_request(host=host, coins=11)
    assert queries() == few == 7  # the user, is a host, the account, opening, movement, streams, cash-outs


def test_a_host_who_never_earned_gets_zeros(auth_client, host):
    stream = LiveStreamFactory(host=host)
    body = _get(auth_client(host))
    assert body["totals"] == {"streams": 1, "gift_sends": 0, "gifts": 0, "coins_earned": 0}
    assert [row["id"] for row in body["streams"]] == [stream.pk]
    assert body["ledger"]["opening_balance"] == body["ledger"]["closing_balance"] == 0
    assert date.fromisoformat(body["days"][0]["date"]) == timezone.localdate()
