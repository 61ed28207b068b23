from django.core.management.base import BaseCommand, CommandError

from apps.wallet.models import Account, JournalEntry, Posting
from apps.wallet.selectors import ledger_audit


class Command(BaseCommand):
    help = "Prove the ledger: every entry balances and every stored balance equals its applied postings."

    def handle(self, *args, **options) -> None:
        problems = ledger_audit()
        counts = (
            f"{JournalEntry.objects.count()} entries, {Posting.objects.count()} postings, "
            f"{Account.objects.count()} accounts"
        )
        if problems:
            for problem in problems:
                self.stderr.write(f"FAIL {problem}")
            raise CommandError(f"wallet audit failed: {len(problems)} problem(s) in {counts}")
        self.stdout.write(self.style.SUCCESS(f"wallet audit passed: {counts}"))
