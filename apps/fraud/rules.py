"""The velocity rules: pure functions from ledger and payment facts to findings (no queries here).

Each finding names the hosts whose cash-outs must wait, a stable subject (so a rule firing again on
the same pattern refreshes its open case instead of opening another), the evidence as JSON and a
summary a person reads.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from apps.wallet.selectors import Transfer

BURST = "new_account_burst"
RING = "gift_ring"
MIRROR = "topup_cashout_mirror"
EVIDENCE_ROWS = 50  # rows listed per kind of evidence; the totals always count everything


@dataclass(frozen=True)
class Thresholds:
    burst_window: timedelta
    burst_gift_coins: int
    burst_min_senders: int
    burst_min_coins: int
    new_account_days: int
    new_host_days: int
    ring_window: timedelta
    ring_min_edge_coins: int
    ring_min_length: int
    ring_max_length: int
    mirror_window: timedelta
    mirror_min_coins: int
    mirror_percent: int

    @classmethod
    def from_settings(cls) -> "Thresholds":
        return cls(
            burst_window=timedelta(minutes=settings.FRAUD_BURST_WINDOW_MINUTES),
            burst_gift_coins=settings.FRAUD_BURST_GIFT_COINS,
            burst_min_senders=settings.FRAUD_BURST_MIN_SENDERS,
            burst_min_coins=settings.FRAUD_BURST_MIN_COINS,
            new_account_days=settings.FRAUD_NEW_ACCOUNT_DAYS,
            new_host_days=settings.FRAUD_NEW_HOST_DAYS,
            ring_window=timedelta(hours=settings.FRAUD_RING_WINDOW_HOURS),
            ring_min_edge_coins=settings.FRAUD_RING_MIN_EDGE_COINS,
            ring_min_length=settings.FRAUD_RING_MIN_LENGTH,
            ring_max_length=settings.FRAUD_RING_MAX_LENGTH,
            mirror_window=timedelta(hours=settings.FRAUD_MIRROR_WINDOW_HOURS),
            mirror_min_coins=settings.FRAUD_MIRROR_MIN_COINS,
            mirror_percent=settings.FRAUD_MIRROR_PERCENT,
        )


@dataclass(frozen=True)
class Finding:
    rule: str
    subject_key: str
    host_ids: tuple[int, ...]
    summary: str
    last_event_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TopUp:
    payment_id: int
    user_id: int
    coins: int
    amount_paisa: int
    at: datetime


@dataclass(frozen=True)
class Cashout:
    cashout_id: int
    host_id: int
    coins: int
    amount_paisa: int
    at: datetime


def _iso(at: datetime) -> str:
    return at.isoformat()


def _npr(paisa: int) -> str:
    return f"NPR {paisa // 100:,}.{paisa % 100:02d}"


# --- Many large gifts from new accounts to a new host ------------------------------------------


def new_account_burst(*, transfers: Iterable[Transfer], joined: Mapping[int, datetime], t: Thresholds) -> list[Finding]:
    """A host younger than `new_host_days` received, within the window, gifts of at least
    `burst_gift_coins` from at least `burst_min_senders` accounts younger than `new_account_days`
    (ages at the time of each gift), `burst_min_coins` or more in all."""
    by_host: dict[int, list[Transfer]] = defaultdict(list)
    for transfer in transfers:
        if transfer.coins < t.burst_gift_coins:
            continue
        host_joined, sender_joined = joined.get(transfer.payee_id), joined.get(transfer.payer_id)
        if host_joined is None or sender_joined is None:
            continue
        if host_joined <= transfer.at - timedelta(days=t.new_host_days):
            continue
        if sender_joined <= transfer.at - timedelta(days=t.new_account_days):
            continue
        by_host[transfer.payee_id].append(transfer)
    findings = []
    for host_id, gifts in sorted(by_host.items()):
        senders = sorted({gift.payer_id for gift in gifts})
        total = sum(gift.coins for gift in gifts)
        if len(senders) < t.burst_min_senders or total < t.burst_min_coins:
            continue
        first, last = gifts[0].at, gifts[-1].at
        minutes = max(1, round((last - first).total_seconds() / 60))
        findings.append(
            Finding(
                rule=BURST,
                subject_key=f"host:{host_id}",
                host_ids=(host_id,),
                last_event_at=last,
                summary=(
                    f"Host #{host_id} (joined {joined[host_id]:%Y-%m-%d %H:%M} UTC) received {len(gifts)} gifts of "
                    f"{t.burst_gift_coins:,}+ coins, {total:,} coins in all, from {len(senders)} accounts younger "
                    f"than {t.new_account_days} days, within {minutes} min ({first:%Y-%m-%d %H:%M} to "
                    f"{last:%H:%M} UTC)."
                ),
                evidence={
                    "host_id": host_id,
                    "host_joined": _iso(joined[host_id]),
                    "gift_count": len(gifts),
                    "total_coins": total,
                    "sender_ids": senders,
                    "first_at": _iso(first),
                    "last_at": _iso(last),
                    "gifts": [
                        {
                            "entry_id": gift.entry_id,
                            "sender_id": gift.payer_id,
                            "sender_joined": _iso(joined[gift.payer_id]),
                            "coins": gift.coins,
                            "at": _iso(gift.at),
                        }
                        for gift in gifts[-EVIDENCE_ROWS:]
                    ],
                    "thresholds": {
                        "window_minutes": int(t.burst_window.total_seconds() // 60),
                        "gift_coins": t.burst_gift_coins,
                        "min_senders": t.burst_min_senders,
                        "min_coins": t.burst_min_coins,
                        "new_account_days": t.new_account_days,
                        "new_host_days": t.new_host_days,
                    },
                },
            )
        )
    return findings


# --- A ring of accounts gifting in a circle ----------------------------------------------------


def _cycles(edges: Mapping[int, Sequence[int]], *, min_length: int, max_length: int, limit: int) -> list[list[int]]:
    """Simple directed cycles of min..max nodes, each once, starting at its smallest node."""
    found: list[list[int]] = []
    for start in sorted(edges):
        stack: list[tuple[int, list[int]]] = [(start, [start])]
        while stack and len(found) < limit:
            node, path = stack.pop()
            for nxt in sorted(edges.get(node, ()), reverse=True):
                if nxt == start and len(path) >= min_length:
                    found.append(path)
                elif nxt > start and nxt not in path and len(path) < max_length:
                    stack.append((nxt, [*path, nxt]))
    return found


def gift_ring(*, transfers: Iterable[Transfer], t: Thresholds) -> list[Finding]:
    """Accounts A → B → … → A each of whom gave the next at least `ring_min_edge_coins` within the window."""
    coins: dict[tuple[int, int], int] = defaultdict(int)
    count: dict[tuple[int, int], int] = defaultdict(int)
    last: dict[tuple[int, int], datetime] = {}
    for transfer in transfers:
        key = (transfer.payer_id, transfer.payee_id)
        coins[key] += transfer.coins
        count[key] += 1
        last[key] = max(last.get(key, transfer.at), transfer.at)
    edges: dict[int, list[int]] = defaultdict(list)
    for (payer, payee), total in coins.items():
        if total >= t.ring_min_edge_coins and payer != payee:
            edges[payer].append(payee)
    findings = []
    for ring in _cycles(edges, min_length=t.ring_min_length, max_length=t.ring_max_length, limit=100):
        hops = list(zip(ring, [*ring[1:], ring[0]], strict=True))
        total = sum(coins[hop] for hop in hops)
        newest = max(last[hop] for hop in hops)
        path = " → ".join(f"#{user_id}" for user_id in [*ring, ring[0]])
        findings.append(
            Finding(
                rule=RING,
                subject_key="ring:" + ",".join(str(user_id) for user_id in sorted(ring)),
                host_ids=tuple(sorted(ring)),
                last_event_at=newest,
                summary=(
                    f"{len(ring)} accounts gifted in a circle {path} within "
                    f"{int(t.ring_window.total_seconds() // 3600)} h: "
                    + ", ".join(f"#{a}→#{b} {coins[(a, b)]:,} coins in {count[(a, b)]} gifts" for a, b in hops)
                    + f"; {total:,} coins went round."
                ),
                evidence={
                    "members": ring,
                    "total_coins": total,
                    "edges": [
                        {
                            "from_id": a,
                            "to_id": b,
                            "coins": coins[(a, b)],
                            "gifts": count[(a, b)],
                            "last_at": _iso(last[(a, b)]),
                        }
                        for a, b in hops
                    ],
                    "thresholds": {
                        "window_hours": int(t.ring_window.total_seconds() // 3600),
                        "min_edge_coins": t.ring_min_edge_coins,
                        "length": [t.ring_min_length, t.ring_max_length],
                    },
                },
            )
        )
    return findings


# --- Top-ups mirrored by a cash-out ------------------------------------------------------------


def topup_cashout_mirror(
    *, cashouts: Iterable[Cashout], transfers: Sequence[Transfer], topups: Sequence[TopUp], t: Thresholds
) -> list[Finding]:
    """A cash-out of at least `mirror_min_coins` of which at least `mirror_percent` % are earnings
    from accounts that topped up within the window before it (each account counted up to the coins
    it bought): money in through a gateway, straight out as a cash-out."""
    findings = []
    for cashout in cashouts:
        if cashout.coins < t.mirror_min_coins:
            continue
        since = cashout.at - t.mirror_window
        bought: dict[int, list[TopUp]] = defaultdict(list)
        for topup in topups:
            if since <= topup.at <= cashout.at and topup.user_id != cashout.host_id:
                bought[topup.user_id].append(topup)
        earned: dict[int, int] = defaultdict(int)
        for transfer in transfers:
            if (
                transfer.payee_id == cashout.host_id
                and transfer.payer_id in bought
                and since <= transfer.at <= cashout.at
            ):
                earned[transfer.payer_id] += transfer.earned
        feeders: list[dict[str, Any]] = []
        for payer_id in sorted(earned):
            topped = sum(topup.coins for topup in bought[payer_id])
            feeders.append(
                {
                    "user_id": payer_id,
                    "topup_payment_ids": [topup.payment_id for topup in bought[payer_id]][:EVIDENCE_ROWS],
                    "topup_coins": topped,
                    "topup_paisa": sum(topup.amount_paisa for topup in bought[payer_id]),
                    "earned_for_host": earned[payer_id],
                    "counted": min(earned[payer_id], topped),
                }
            )
        fed = sum(feeder["counted"] for feeder in feeders)
        if fed * 100 < t.mirror_percent * cashout.coins:
            continue
        paid_in = sum(feeder["topup_paisa"] for feeder in feeders)
        hours = int(t.mirror_window.total_seconds() // 3600)
        findings.append(
            Finding(
                rule=MIRROR,
                subject_key=f"cashout:{cashout.cashout_id}",
                host_ids=(cashout.host_id,),
                last_event_at=cashout.at,
                summary=(
                    f"Host #{cashout.host_id} asked to cash out {cashout.coins:,} coins ({_npr(cashout.amount_paisa)}) "
                    f"in cash-out #{cashout.cashout_id}; {fed:,} of them ({fed * 100 // cashout.coins} %) are "
                    f"earnings from {len(feeders)} accounts that topped up {_npr(paid_in)} in the {hours} h before."
                ),
                evidence={
                    "cashout_id": cashout.cashout_id,
                    "host_id": cashout.host_id,
                    "cashout_coins": cashout.coins,
                    "cashout_paisa": cashout.amount_paisa,
                    "requested_at": _iso(cashout.at),
                    "mirrored_coins": fed,
                    "topup_paisa": paid_in,
                    "feeders": feeders[:EVIDENCE_ROWS],
                    "thresholds": {
                        "window_hours": hours,
                        "min_coins": t.mirror_min_coins,
                        "percent": t.mirror_percent,
                    },
                },
            )
        )
    return findings
