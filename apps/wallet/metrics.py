"""What wallet registers for core's ops pages (apps.core.analytics): coins moved per entry kind."""

from typing import Any

from django.db.models import Count, F, Sum

from apps.core.analytics import OpsReads, Window
from apps.wallet.models import Posting


def _ledger_by_kind(window: Window) -> list[dict[str, Any]]:
    credits = Posting.objects.filter(amount__gt=0, **window.within("entry__created_at"))
    return list(
        credits.values(kind=F("entry__kind"))
        .annotate(entries=Count("entry_id", distinct=True), coins=Sum("amount"))
        .order_by("-coins")
    )


OPS_READS = OpsReads(sections={"ledger": _ledger_by_kind})
