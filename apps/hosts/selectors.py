"""Reads of a host's earnings: per stream and per local day from the ledger, with what the live app
recorded of each stream and where the host's cash-outs stand.

Every coin figure is a sum of the host's earnings postings (apps.wallet), so it agrees with the wallet
history: a gift's coins are the host's share as credited, not the price the sender paid.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.accounts.models import User
from apps.gifts.selectors import gift_send_of_entry
from apps.gifts.services import GIFT_ENTRY_KIND
from apps.hosts.exceptions import NotAHost
from apps.live.selectors import HostedStream, host_has_streamed, host_streams_between
from apps.wallet.selectors import cashouts_between, earnings_account_id, earnings_balance_at, earnings_movement

# Ledger entry kinds that move a host's earnings besides gifts (apps.wallet.services).
CASHOUT_REQUEST_KIND = "cashout_request"
CASHOUT_RETURNED_KIND = "cashout_rejected"


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class Period:
    """Local calendar days `first` to `last`, inclusive, in settings.TIME_ZONE (Nepal time)."""

    first: date
    last: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=local_zone())

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=local_zone())


@dataclass
class StreamEarnings:
    stream: HostedStream
    gift_sends: int = 0
    gifts: int = 0
    coins_earned: int = 0


@dataclass
class DayEarnings:
    day: date
    gift_sends: int = 0
    gifts: int = 0
    coins_earned: int = 0
    streams: int = 0  # streams that started that day
    peak_viewers: int = 0  # the largest peak of those streams


@dataclass(frozen=True)
class LedgerSummary:
    """The earnings account over the period: opening + movements = closing."""

    opening_balance: int
    closing_balance: int
    movements: dict[str, int]  # entry kind -> signed coins
    gifts: int  # credited by gifts
    cashouts_requested: int  # moved out to cash-outs (negative)
    cashouts_returned: int  # rejected cash-outs given back
    other: int  # anything else (e.g. a refunded top-up's coins clawed back)


@dataclass(frozen=True)
class PayoutLine:
    id: int
    requested_at: datetime
    coins: int
    amount_paisa: int
    tax_paisa: int
    net_paisa: int
    status: str
    reviewed_at: datetime | None
    provider_ref: str


@dataclass(frozen=True)
class PayoutStatusTotals:
    count: int = 0
    coins: int = 0
    amount_paisa: int = 0


@dataclass(frozen=True)
class PayoutSummary:
    by_status: dict[str, PayoutStatusTotals]
    lines: list[PayoutLine]
    tax_withheld_paisa: int  # from the paid cash-outs


@dataclass
class HostEarnings:
    host: User
    period: Period
    ledger: LedgerSummary
    streams: list[StreamEarnings]
    days: list[DayEarnings]
    payouts: PayoutSummary
    totals: dict[str, int] = field(default_factory=dict)


def host_require(*, user: User) -> None:
    """NotAHost unless the user has opened a stream (only hosts have earnings to show)."""
    if not host_has_streamed(host_id=user.pk):
        raise NotAHost()


def payouts_for_period(*, host_id: int, since: datetime, until: datetime) -> PayoutSummary:
    """Where the host's cash-outs requested in [since, until) stand, per status and one by one.

    The one read of payout status: the wallet's cash-out requests and their statuses (requested,
    batched = sent for payment, approved = paid, rejected and failed = earnings returned); the tax
    withheld is that of the paid ones (fixed when each was requested).
    """
    lines = [
        PayoutLine(
            id=request.pk,
            requested_at=request.created_at,
            coins=request.coins,
            amount_paisa=request.amount_paisa,
            tax_paisa=request.tax_paisa,
            net_paisa=request.net_paisa if request.net_paisa is not None else request.amount_paisa - request.tax_paisa,
            status=request.status,
            reviewed_at=request.reviewed_at,
            provider_ref=request.provider_ref,
        )
        for request in cashouts_between(host_id=host_id, since=since, until=until)
    ]
    by_status: dict[str, PayoutStatusTotals] = {}
    for line in lines:
        before = by_status.get(line.status, PayoutStatusTotals())
        by_status[line.status] = PayoutStatusTotals(
            count=before.count + 1,
            coins=before.coins + line.coins,
            amount_paisa=before.amount_paisa + line.amount_paisa,
        )
    withheld = sum(line.tax_paisa for line in lines if line.status == "approved")
    return PayoutSummary(by_status=by_status, lines=lines, tax_withheld_paisa=withheld)


def host_earnings(*, host: User, period: Period) -> HostEarnings:
    """The host's earnings over the period, per stream and per local day, with the ledger's opening
    and closing balances and their cash-outs. A fixed number of queries however many streams, days
    or gifts (each sum is taken in the database)."""
    since, until = period.since, period.until
    account_id = earnings_account_id(host_id=host.pk)
    rows = []
    opening = 0
    if account_id is not None:
        opening = earnings_balance_at(account_id=account_id, at=since)
        rows = earnings_movement(
            account_id=account_id,
            since=since,
            until=until,
            tz=local_zone(),
            groups={"stream_id": gift_send_of_entry("stream_id")},
            sums={"gifts": gift_send_of_entry("quantity")},
        )
    movements: dict[str, int] = {}
    days: dict[date, DayEarnings] = {}
    for row in rows:
        movements[row["kind"]] = movements.get(row["kind"], 0) + row["coins"]
        if row["kind"] != GIFT_ENTRY_KIND or row["stream_id"] is None:
            continue
        day = days.setdefault(row["day"], DayEarnings(day=row["day"]))
        day.gift_sends += row["entries"]
        day.gifts += row["gifts"] or 0
        day.coins_earned += row["coins"]
    streams = host_streams_between(
        host_id=host.pk,
        since=since,
        until=until,
        also_ids={row["stream_id"] for row in rows if row["stream_id"] is not None},
    )
    per_stream = {stream.id: StreamEarnings(stream=stream) for stream in streams}
    for row in rows:
        earned = per_stream.get(row["stream_id"]) if row["kind"] == GIFT_ENTRY_KIND else None
        if earned is not None:
            earned.gift_sends += row["entries"]
            earned.gifts += row["gifts"] or 0
            earned.coins_earned += row["coins"]
    zone = local_zone()
    for stream in streams:
        if stream.started_at is None or not since <= stream.started_at < until:
            continue
        local_day = stream.started_at.astimezone(zone).date()
        day = days.setdefault(local_day, DayEarnings(day=local_day))
        day.streams += 1
        day.peak_viewers = max(day.peak_viewers, stream.peak_viewers)
    gifts = movements.get(GIFT_ENTRY_KIND, 0)
    requested = movements.get(CASHOUT_REQUEST_KIND, 0)
    returned = movements.get(CASHOUT_RETURNED_KIND, 0)
    ledger = LedgerSummary(
        opening_balance=opening,
        closing_balance=opening + sum(movements.values()),
        movements=movements,
        gifts=gifts,
        cashouts_requested=requested,
        cashouts_returned=returned,
        other=sum(movements.values()) - gifts - requested - returned,
    )
    stream_rows = list(per_stream.values())
    earnings = HostEarnings(
        host=host,
        period=period,
        ledger=ledger,
        streams=stream_rows,
        days=sorted(days.values(), key=lambda d: d.day),
        payouts=payouts_for_period(host_id=host.pk, since=since, until=until),
    )
    earnings.totals = {
        "streams": sum(1 for s in streams if s.started_at is not None and since <= s.started_at < until),
        "gift_sends": sum(d.gift_sends for d in earnings.days),
        "gifts": sum(d.gifts for d in earnings.days),
        "coins_earned": sum(d.coins_earned for d in earnings.days),
    }
    return earnings
