from django.core.management.base import BaseCommand

from apps.payments.services import payments_reconcile


class Command(BaseCommand):
    help = "Ask the gateways about unfinished and recently completed payments; print what changed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="Payments of each kind to check (default 500).")

    def handle(self, *args, limit: int, **options) -> None:
        changes = payments_reconcile(limit=limit)
        for outcome in changes:
            note = f" ({outcome.note})" if outcome.note else ""
            self.stdout.write(f"payment #{outcome.payment_id}: {outcome.before} -> {outcome.after}{note}")
        self.stdout.write(self.style.SUCCESS(f"{len(changes)} payment(s) changed."))
