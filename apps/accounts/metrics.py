"""What accounts registers for core's ops pages (apps.core.analytics): sign-ins and sign-ups."""

from datetime import date

from django.db.models import Count

from apps.accounts.models import User
from apps.core.analytics import OpsReads, Window, daily_aggregates, daily_users


def _signed_in(window: Window) -> list[tuple[date, int]]:
    return daily_users(User.objects.filter(**window.within("last_login")), "id", "last_login")


def _joined(window: Window) -> list[tuple[date, int]]:
    return daily_users(User.objects.filter(**window.within("date_joined")), "id", "date_joined")


def _new_users(window: Window) -> dict[date, dict[str, float]]:
    joined = User.objects.filter(**window.within("date_joined"))
    return {day: {"new_users": row["n"]} for day, row in daily_aggregates(joined, "date_joined", n=Count("id")).items()}


OPS_READS = OpsReads(activity={"sign-ins": _signed_in, "sign-ups": _joined}, daily={"new users": _new_users})
