"""What gifts registers for core's ops pages (apps.core.analytics): who gifted, gifts per day."""

from datetime import date

from django.db.models import QuerySet, Sum

from apps.core.analytics import OpsReads, Window, daily_aggregates, daily_users
from apps.gifts.models import GiftSend


def _sends(window: Window) -> QuerySet[GiftSend]:
    return GiftSend.objects.filter(**window.within("created_at"))


def _gifters(window: Window) -> list[tuple[date, int]]:
    return daily_users(_sends(window), "sender_id", "created_at")


def _gifts(window: Window) -> dict[date, dict[str, float]]:
    per_day = daily_aggregates(_sends(window), "created_at", n=Sum("quantity"), coins=Sum("coins"))
    return {day: {"gifts": row["n"] or 0, "gift_coins": row["coins"] or 0} for day, row in per_day.items()}


OPS_READS = OpsReads(activity={"gift senders": _gifters}, daily={"gifts": _gifts})
