"""What one fault run left behind, compared with what its clients saw.

`verdict` reads the database (through `world facts`, taken before and after the run) against the
run's Book: every acknowledged operation present exactly once, nothing present for a refusal,
every balance moved by exactly what the clients were told, the wallet audit clean, and the
leaderboards never above the ledger and equal to it after a rebuild.
"""

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tests.faults.clients import Book, Op


@dataclass
class Row:
    fault: str
    attempted: int = 0
    acked: int = 0
    refused: int = 0
    retried: int = 0  # operations that needed a retry (a 5xx or no answer first)
    unresolved: int = 0  # still without a definite answer when the clients gave up
    lost: int = 0  # acknowledged but absent, or coins missing from a balance
    duplicated: int = 0  # present more than once, or coins a balance holds on top
    refused_present: int = 0  # refused, yet its effect is in the database
    recovery: float = 0.0  # seconds until every disturbed operation had its answer (and the rooms were back)
    # answers that were not definite: "<5xx status or None> <area>", then the error code if there was one
    unclear: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def sound(self) -> bool:
        return not (self.lost or self.duplicated or self.refused_present or self.unresolved or self.problems)


def gift_ref(sender_id: int, key: str) -> str:
    """The ledger reference of a send made with an Idempotency-Key (as apps.gifts.services.gift_ref)."""
    return f"u{sender_id}:{hashlib.sha256(key.encode()).hexdigest()[:48]}"


def _area(path: str) -> str:
    """Where an answer came from: the API, the admin, our payment pages, or the gateway sandbox."""
    for prefix in ("/api/", "/admin/", "/payments/", "/sandbox/"):
        if path.startswith(prefix):
            return prefix
    return path


def _new(before: list[dict], after: list[dict]) -> list[dict]:
    seen = {row["pk"] for row in before}
    return [row for row in after if row["pk"] not in seen]


def verdict(fault: str, book: Book, before: dict, after: dict, issued_gift_refs: set[str]) -> Row:
    row = Row(fault)
    ops = book.ops
    row.attempted = len(ops)
    row.acked = sum(op.outcome == "acked" for op in ops)
    row.refused = sum(op.outcome == "refused" for op in ops)
    row.retried = sum(op.retries > 0 for op in ops)
    row.unresolved = sum(op.outcome == "unknown" for op in ops)
    row.problems += [f"wallet audit: {problem}" for problem in after["audit"]]
    if not after["wallet_audit"].startswith("wallet audit passed"):
        row.problems.append(f"manage.py wallet_audit: {after['wallet_audit']}")
    row.problems += [f"{n} journal entries for {ref}" for ref, n in after["entries_per_ref"].items()]
    row.problems += book.notes
    _gifts(row, book, after, issued_gift_refs)
    _per_user_records(row, book.of("og"), _new(before["og_purchases"], after["og_purchases"]), "og purchase")
    _per_user_records(row, book.of("game"), _new(before["rounds"], after["rounds"]), "game round")
    _per_user_records(row, book.of("cashout"), _new(before["cashouts"], after["cashouts"]), "cash-out request")
    _reviews(row, book.of("review"), after)
    _topups(row, book.of("topup"), after)
    _balances(row, ops, before, after)
    _boards(row, after)
    row.unclear = Counter(f"{status} {_area(path)} {code}".rstrip() for op in ops for status, path, code in op.unclear)
    if row.unclear:
        answers = ", ".join(f"{what} x{n}" for what, n in sorted(row.unclear.items()))
        row.notes.append(f"answers without a definite outcome: {answers}")
    refusals = Counter(f"{op.kind} {op.code}" for op in ops if op.outcome == "refused")
    if refusals:
        row.notes.append("refusals: " + ", ".join(f"{k} x{v}" for k, v in sorted(refusals.items())))
    row.recovery = max((op.longest_wait for op in ops), default=0.0)
    return row


def _gifts(row: Row, book: Book, after: dict, issued: set[str]) -> None:
    sends = defaultdict(list)
    for send in after["gift_sends"]:
        sends[send["ref"]].append(send)
    for op in book.of("gift"):
        found = sends.get(gift_ref(op.user_id, op.key), [])
        if op.outcome == "acked":
            if not found:
                row.lost += 1
                row.problems.append(f"acknowledged gift send #{op.result.get('id')} is missing")
            elif len(found) > 1 or found[0]["id"] != op.result.get("id"):
                row.duplicated += len(found) - 1 or 1
                row.problems.append(
                    f"gift key {op.key}: sends {[s['id'] for s in found]}, answered #{op.result.get('id')}"
                )
        elif op.outcome == "refused" and found:
            row.refused_present += 1
            row.problems.append(f"gift key {op.key} was refused ({op.code}) but send #{found[0]['id']} exists")
    strangers = [ref for ref in sends if ref not in issued and ref.startswith("u")]
    if strangers:
        row.duplicated += len(strangers)
        row.problems.append(f"{len(strangers)} gift send(s) under references no client issued")


def _per_user_records(row: Row, ops: list[Op], new_rows: list[dict], what: str) -> None:
    """Records that carry no client key: each acknowledged answer's id must be new, and the new rows
    per user must be exactly the acknowledged ones (a refused or unknown attempt left nothing)."""
    new_by_id = {r["pk"]: r for r in new_rows}
    owner = "host_id" if what == "cash-out request" else "user_id"
    acked_ids = set()
    for op in ops:
        if op.outcome == "acked":
            acked_ids.add(op.result.get("id"))
            if op.result.get("id") not in new_by_id:
                row.lost += 1
                row.problems.append(f"acknowledged {what} #{op.result.get('id')} is missing")
    users = {op.user_id for op in ops}
    extra = [r for r in new_rows if r["pk"] not in acked_ids and r[owner] in users]
    refused_users = {op.user_id for op in ops if op.outcome == "refused"}
    for r in extra:
        if r[owner] in refused_users:
            row.refused_present += 1
        else:
            row.duplicated += 1
        row.problems.append(f"{what} #{r['pk']} of user {r[owner]} was never acknowledged")


def _reviews(row: Row, ops: list[Op], after: dict) -> None:
    status = {c["pk"]: c["status"] for c in after["cashouts"]}
    for op in ops:
        now = status.get(op.result["id"])
        if op.outcome == "acked" and now != op.result["decision"]:
            row.lost += 1
            row.problems.append(f"cash-out #{op.result['id']} reviewed as {op.result['decision']} but is {now}")
        elif op.outcome == "refused" and now != "requested":
            row.refused_present += 1
            row.problems.append(f"review of cash-out #{op.result['id']} was refused but it is {now}")


def _topups(row: Row, ops: list[Op], after: dict) -> None:
    payments = {p["pk"]: p for p in after["payments"]}
    for op in ops:
        payment = payments.get(op.result.get("payment_id"))
        if payment is None:
            continue
        credits = after["topup_entries"].get(str(payment["pk"]), 0)
        if credits > 1:
            row.duplicated += credits - 1
            row.problems.append(f"payment #{payment['pk']} credited {credits} times")
        if op.result.get("paid") and (payment["status"] != "completed" or credits != 1):
            row.lost += 1
            row.problems.append(
                f"payment #{payment['pk']} was paid but is {payment['status']} with {credits} credit(s)"
            )
        elif op.outcome == "refused" and credits:
            row.refused_present += 1
            row.problems.append(f"payment #{payment['pk']} was refused ({op.code}) but credited")


def _balances(row: Row, ops: list[Op], before: dict, after: dict) -> None:
    """Each user's coins and each host's earnings moved by exactly what the acknowledged answers said."""
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for op in ops:
        if op.outcome != "acked":
            continue
        user, r = str(op.user_id), op.result
        if op.kind == "gift":
            expected[(user, "user_coins")] -= r["coins"]
            expected[(str(r["host_id"]), "host_earnings")] += r["host_share"]
        elif op.kind == "og":
            expected[(user, "user_coins")] -= r["charged_coins"]
        elif op.kind == "game":
            expected[(user, "user_coins")] += r["payout"] - r["bet"]
        elif op.kind == "topup":
            expected[(user, "user_coins")] += r["coins"]
        elif op.kind == "cashout":
            expected[(user, "host_earnings")] -= r["coins"]
        elif op.kind == "review" and r["decision"] == "rejected":
            expected[(user, "host_earnings")] += r["coins"]
    users = {str(op.user_id) for op in ops} | {u for u, _ in expected}
    for user in users:
        for kind in ("user_coins", "host_earnings"):
            moved = after["balances"].get(user, {}).get(kind, 0) - before["balances"].get(user, {}).get(kind, 0)
            want = expected.get((user, kind), 0)
            if moved != want:
                if moved < want:
                    row.lost += 1
                else:
                    row.duplicated += 1
                row.problems.append(f"user {user} {kind} moved {moved:+d}, the answers said {want:+d}")


def _boards(row: Row, after: dict) -> None:
    ledger, before, rebuilt = after["ledger_boards"], after["boards_before_rebuild"], after["boards_after_rebuild"]
    behind = 0
    for name, members in before.items():
        for member, score in members.items():
            owed = ledger.get(name, {}).get(member, 0)
            if score > owed:
                row.duplicated += 1
                row.problems.append(f"leaderboard {name}: member {member} counted {score}, the ledger says {owed}")
            behind += score < owed
    if behind:
        row.notes.append(f"{behind} leaderboard entries were behind the ledger before the rebuild")
    for name, members in ledger.items():
        if rebuilt.get(name, {}) != members:
            row.problems.append(f"leaderboard {name} differs from the ledger after the rebuild")
