from celery import shared_task

from apps.og.services import og_daily_bonus_grant_all, og_memberships_expire


@shared_task(name="og.daily_bonus_grant_all")
def og_daily_bonus_grant_all_task() -> int:
    """Grant today's bonus to active members (running it again the same day grants nothing more)."""
    return og_daily_bonus_grant_all()


@shared_task(name="og.memberships_expire")
def og_memberships_expire_task() -> int:
    """Mark memberships past their expiry as expired (safe to run any number of times)."""
    return og_memberships_expire()
