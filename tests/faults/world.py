"""The fault suite's view from inside the stack: Django on the suite's own database and Redis.

    python -m tests.faults.world seed    people, catalogues, live streams and coins; prints their ids and tokens
    python -m tests.faults.world facts   what the database and the boards hold now, after the periodic jobs

Run by tests/faults/stack.py with the stack's environment; JSON in on stdin, one JSON line out.
"""

import io
import json
import os
import sys
from collections import defaultdict

import django

PEOPLE = {"hosts": 3, "senders": 8, "poor_senders": 2, "og_buyers": 2, "gamers": 2, "payers": 2, "viewers": 6}
RICH = 1_000_000
POOR = 35  # three 10-coin gifts, then insufficient_coins
GIFT_PRICE = 10


def seed(_: dict) -> dict:
    from apps.accounts.models import User
    from apps.accounts.services import tokens_issue
    from apps.games.demo import DEMO_GAMES, game_seed
    from apps.gifts.services import gift_catalogue_invalidate
    from apps.og import demo as og_demo
    from apps.og.models import OgTier
    from apps.payments import demo as payments_demo
    from apps.payments.models import CoinPackage
    from tests.accounts.factories import TEST_PASSWORD, UserFactory
    from tests.gifts.factories import GiftFactory, LiveStreamFactory
    from tests.wallet.factories import finance_user, fund, payout_ready

    quiet = lambda _text: None  # noqa: E731
    og_demo.seed(out=quiet)
    payments_demo.seed(out=quiet)
    for slug, name, min_bet, max_bet, slots in DEMO_GAMES:
        game_seed(slug=slug, name=name, min_bet=min_bet, max_bet=max_bet, slots=slots)
    gift = GiftFactory(name="Fault momo", coin_price=GIFT_PRICE)
    gift_catalogue_invalidate()
    finance = finance_user(username="fault_finance")

    def person(role: str, i: int, coins: int) -> dict:
        user = UserFactory(username=f"fault_{role}_{i}", password=None)  # signs in with its token only
        if coins:
            fund(user, coins, by=finance)
        return {"id": user.pk, "token": tokens_issue(user=user)["access"]}

    world: dict = {"gift": gift.pk, "finance": {"username": finance.username, "password": TEST_PASSWORD}}
    world["hosts"] = []
    for i in range(PEOPLE["hosts"]):
        host = person("host", i, 0)
        host["stream"] = LiveStreamFactory(host_id=host["id"]).pk
        host["destination"] = payout_ready(User.objects.get(pk=host["id"]))  # KYC'd, a confirmed eSewa ID
        world["hosts"].append(host)
    for role, coins in (("senders", RICH), ("poor_senders", POOR), ("og_buyers", RICH), ("gamers", RICH)):
        world[role] = [person(role, i, coins) for i in range(PEOPLE[role])]
    world["payers"] = [person("payer", i, 0) for i in range(PEOPLE["payers"])]
    world["viewers"] = [person("viewer", i, 0) for i in range(PEOPLE["viewers"])]
    world["og_tier"] = OgTier.objects.get(level=1).pk
    world["package"] = CoinPackage.objects.order_by("price_paisa").values_list("pk", flat=True).first()
    world["games"] = {slug: max_bet for slug, _name, _min, max_bet, _slots in DEMO_GAMES}
    return world


def facts(_: dict) -> dict:
    """Everything the checks compare with what the clients saw, read after the jobs beat runs
    (the ledger rollup) and before and after the leaderboard rebuild."""
    from django.core.management import CommandError, call_command
    from django.db.models import Count, Sum

    from apps.games.models import GameRound
    from apps.gifts import leaderboards
    from apps.gifts.leaderboards import Board, Period
    from apps.gifts.models import GiftSend
    from apps.og.models import OgPurchase
    from apps.payments.models import Payment
    from apps.wallet.models import Account, CashoutRequest, JournalEntry, Posting
    from apps.wallet.selectors import ledger_audit
    from apps.wallet.services import ledger_rollup

    ledger_rollup()  # what beat runs every LEDGER_ROLLUP_SECONDS
    report = io.StringIO()
    try:
        call_command("wallet_audit", stdout=report, stderr=report)
    except CommandError as exc:
        report.write(str(exc))
    result: dict = {"audit": ledger_audit(), "wallet_audit": report.getvalue().strip()}

    result["gift_sends"] = [
        {"id": s["pk"], "ref": s["entry__ref"], "sender": s["sender_id"], "coins": s["coins"]}
        for s in GiftSend.objects.values("pk", "entry__ref", "sender_id", "coins")
    ]
    result["entries_per_ref"] = {
        f"{row['kind']}:{row['ref']}": row["n"]
        for row in JournalEntry.objects.values("kind", "ref").annotate(n=Count("id")).filter(n__gt=1)
    }
    balances: dict = defaultdict(dict)
    for owner, kind, balance in Account.objects.filter(owner__isnull=False).values_list("owner_id", "kind", "balance"):
        balances[str(owner)][kind] = balance
    result["balances"] = balances
    result["og_purchases"] = list(OgPurchase.objects.values("pk", "user_id", "charged_coins"))
    result["rounds"] = list(GameRound.objects.values("pk", "user_id", "bet", "payout"))
    result["cashouts"] = list(CashoutRequest.objects.values("pk", "host_id", "coins", "status"))
    result["payments"] = list(Payment.objects.values("pk", "user_id", "status", "credit_entry_id", "merchant_ref"))
    result["topup_entries"] = dict(
        JournalEntry.objects.filter(kind="topup").values("ref").annotate(n=Count("id")).values_list("ref", "n")
    )

    # The boards against the ledger: a gift entry's debit is the sender's spend, its host credit the host's share.
    gift_postings = Posting.objects.filter(entry__kind="gift")
    spent = gift_postings.filter(account__kind="user_coins").values("account__owner_id").annotate(t=Sum("amount"))
    earned = gift_postings.filter(account__kind="host_earnings").values("account__owner_id").annotate(t=Sum("amount"))
    per_stream = GiftSend.objects.values("stream_id", "sender_id").annotate(t=Sum("coins"))
    ledger_boards: dict = {
        "gifters": {str(r["account__owner_id"]): -r["t"] for r in spent},
        "hosts": {str(r["account__owner_id"]): r["t"] for r in earned},
    }
    for row in per_stream:
        ledger_boards.setdefault(f"stream:{row['stream_id']}", {})[str(row["sender_id"])] = row["t"]
    result["ledger_boards"] = ledger_boards

    def boards() -> dict:
        from django.utils import timezone

        now = timezone.now()
        found = {
            name: dict(leaderboards.redis_top(board, Period.ALL, now=now, stream_id=None, limit=10_000))
            for name, board in (("gifters", Board.GIFTERS), ("hosts", Board.HOSTS))
        }
        for name in ledger_boards:
            if name.startswith("stream:"):
                stream_id = int(name.split(":")[1])
                found[name] = dict(
                    leaderboards.redis_top(Board.STREAM, Period.ALL, now=now, stream_id=stream_id, limit=10_000)
                )
        return {name: {str(k): v for k, v in rows.items()} for name, rows in found.items()}

    result["boards_before_rebuild"] = boards()
    call_command("gifts_leaderboard_rebuild", stdout=io.StringIO())
    result["boards_after_rebuild"] = boards()
    return result


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")
    django.setup()
    command = sys.argv[1]
    payload = json.loads(sys.stdin.read() or "{}")
    handler = {"seed": seed, "facts": facts}[command]
    sys.stdout.write(json.dumps(handler(payload), default=str) + "\n")


if __name__ == "__main__":
    main()
