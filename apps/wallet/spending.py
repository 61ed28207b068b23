"""Spending controls: a user's daily and monthly limits on coins spent on gifts and games, a pause,
the confirmation step for a large gift from a new account, and the daily allowance of an account
without a verified age.

A spend that counts runs, in ONE transaction: `spending_check` (locks the user's SpendingControls
row, then checks), the spend itself, then `spending_record` (moves the tally). The row lock makes
concurrent spends of one user take turns, so together they never pass a limit; a refused or failed
spend rolls the tally back with everything else.

Lock order: the SpendingControls row first, then the user's coin account (the debit). No path
locks them the other way round (OG purchases lock only the coin account).
"""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from apps.accounts.exceptions import AccountInactive
from apps.accounts.models import User
from apps.accounts.services import user_require_verified_age
from apps.core.i18n import translate_lazy
from apps.core.timestamps import iso_utc
from apps.wallet.exceptions import ConfirmationRequired, SpendingLimitReached, SpendingPaused
from apps.wallet.models import SpendingControls


def _defaults(user_id: int) -> SpendingControls:
    return SpendingControls(
        user_id=user_id,
        daily_limit=settings.SPENDING_DEFAULT_DAILY_LIMIT,
        monthly_limit=settings.SPENDING_DEFAULT_MONTHLY_LIMIT,
    )


def _due_apply(controls: SpendingControls, now: datetime) -> None:
    """Apply the scheduled raises and unpause whose cool-off is over (in memory)."""
    if controls.daily_limit_next_at is not None and controls.daily_limit_next_at <= now:
        controls.daily_limit = controls.daily_limit_next if controls.daily_limit_next is not None else 0
        controls.daily_limit_next = controls.daily_limit_next_at = None
    if controls.monthly_limit_next_at is not None and controls.monthly_limit_next_at <= now:
        controls.monthly_limit = controls.monthly_limit_next if controls.monthly_limit_next is not None else 0
        controls.monthly_limit_next = controls.monthly_limit_next_at = None
    if controls.unpause_at is not None and controls.unpause_at <= now:
        controls.paused, controls.unpause_at = False, None


def _tally_roll(controls: SpendingControls, today: date) -> None:
    """Start a new day's and a new month's tally when the stored one is of an earlier period (in memory)."""
    if controls.tally_day != today:
        controls.tally_day, controls.spent_day = today, 0
    month = today.replace(day=1)
    if controls.tally_month != month:
        controls.tally_month, controls.spent_month = month, 0


def _next_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def day_resets_at(today: date) -> datetime:
    return _next_midnight(today + timedelta(days=1))


def month_resets_at(today: date) -> datetime:
    first = today.replace(day=1)
    return _next_midnight((first + timedelta(days=32)).replace(day=1))


# --- Reads ---------------------------------------------------------------------------------------


def spending_controls_get(*, user_id: int, now: datetime | None = None) -> SpendingControls:
    """The user's controls as they stand at `now`: due raises applied, the tally of today and this
    month (the platform defaults and no spending for a user who never spent). Writes nothing."""
    now = now or timezone.now()
    controls = SpendingControls.objects.filter(user_id=user_id).first() or _defaults(user_id)
    _due_apply(controls, now)
    _tally_roll(controls, timezone.localdate(now))
    return controls


# --- Writes --------------------------------------------------------------------------------------


def _lock(user_id: int) -> SpendingControls:
    """Lock the user's row (created with the defaults on first use, race-safe). Caller is in a transaction."""
    locked = SpendingControls.objects.select_for_update(of=("self",)).select_related("user").filter(user_id=user_id)
    controls = locked.first()
    if controls is None:
        SpendingControls.objects.bulk_create([_defaults(user_id)], ignore_conflicts=True)
        controls = locked.first()
    if controls is None:  # no such user (the row's insert waits for a constraint check that will fail)
        raise AccountInactive()
    return controls


@transaction.atomic
def spending_controls_update(
    *,
    user_id: int,
    daily_limit: int | None = None,
    monthly_limit: int | None = None,
    paused: bool | None = None,
    now: datetime | None = None,
) -> SpendingControls:
    """Change the user's own controls. Lowering a limit and pausing act at once (and cancel a raise or
    an unpause waiting for the cool-off); raising a limit and unpausing are scheduled
    settings.SPENDING_COOL_OFF_HOURS ahead (asking again restarts the wait for a new value; asking
    for the current value cancels a waiting raise). None leaves a control as it is."""
    now = now or timezone.now()
    controls = _lock(user_id)
    _due_apply(controls, now)
    due = now + timedelta(hours=settings.SPENDING_COOL_OFF_HOURS)
    for field, value in (("daily_limit", daily_limit), ("monthly_limit", monthly_limit)):
        if value is None:
            continue
        if value <= getattr(controls, field):
            setattr(controls, field, value)
            setattr(controls, f"{field}_next", None)
            setattr(controls, f"{field}_next_at", None)
        elif value != getattr(controls, f"{field}_next"):
            setattr(controls, f"{field}_next", value)
            setattr(controls, f"{field}_next_at", due)
    if paused is True:
        controls.paused, controls.unpause_at = True, None
    elif paused is False and controls.paused and controls.unpause_at is None:
        controls.unpause_at = due
    controls.save()
    _tally_roll(controls, timezone.localdate(now))
    return controls


def spending_check(
    *, user_id: int, coins: int, confirmed: bool | None = None, now: datetime | None = None
) -> SpendingControls:
    """Lock the user's controls and refuse a spend of `coins` that they do not allow: paused
    (SpendingPaused), past the unverified allowance without a verified age
    (AgeVerificationRequired), past the daily or monthly limit (SpendingLimitReached), or a large
    gift from a new account not yet confirmed (ConfirmationRequired; `confirmed` None: this kind of
    spend has no confirmation step).

    Precondition: the caller is in a transaction that then makes the spend and calls
    `spending_record` with the returned row (the lock is held until it ends).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("spending_check must run in the transaction of the spend")
    now = now or timezone.now()
    controls = _lock(user_id)
    _due_apply(controls, now)
    today = timezone.localdate(now)
    _tally_roll(controls, today)
    user: User = controls.user
    if controls.paused:
        raise SpendingPaused(
            details={"unpause_at": iso_utc(controls.unpause_at), "cool_off_hours": settings.SPENDING_COOL_OFF_HOURS}
        )
    if (
        user.age_verification != User.AgeVerification.VERIFIED
        and controls.spent_day + coins > settings.AGE_UNVERIFIED_SPEND_DAILY_COINS
    ):
        user_require_verified_age(
            user=user,
            message=translate_lazy(
                gettext_noop(
                    "Spending more than %(coins)s coins a day needs a verified age. Take the selfie age check "
                    "under Age verification, then try again."
                ),
                coins=settings.AGE_UNVERIFIED_SPEND_DAILY_COINS,
            ),
        )
    for period, limit, spent, resets_at in (
        ("day", controls.daily_limit, controls.spent_day, day_resets_at(today)),
        ("month", controls.monthly_limit, controls.spent_month, month_resets_at(today)),
    ):
        if spent + coins > limit:
            raise SpendingLimitReached(
                details={
                    "period": period,
                    "limit": limit,
                    "spent": spent,
                    "requested": coins,
                    "resets_at": iso_utc(resets_at),
                }
            )
    if confirmed is False and coins > settings.SPENDING_CONFIRM_GIFT_COINS:
        if now - user.date_joined < timedelta(days=settings.SPENDING_CONFIRM_ACCOUNT_DAYS):
            raise ConfirmationRequired(
                details={"coins": coins, "threshold": settings.SPENDING_CONFIRM_GIFT_COINS, "confirm": True}
            )
    return controls


def spending_record(*, controls: SpendingControls, coins: int) -> None:
    """Add a spend to the tally. Caller holds the row lock from `spending_check` in the same transaction."""
    controls.spent_day += coins
    controls.spent_month += coins
    controls.save()  # the tally, and any raise or unpause that came due in the check


# --- The same checks as SQL, for a one-statement spend (the gift send) ----------------------------
# Twins of `spending_check` / `spending_record`: keep the meanings equal. The statement locks the
# payer's row (FOR UPDATE: after waiting for a concurrent spend it reads that spend's tally), and its
# tally UPDATE runs only when the debit happened. No row yet (first use): the statement declines and
# the caller takes the step-by-step path, which creates it.

SPENDING_PARAMS = ("spending_now", "spending_today", "spending_month", "spending_allowance")
CONFIRM_PARAMS = ("spending_confirmed", "spending_confirm_over", "spending_young_since")


def _effective_sql(c: str) -> dict[str, str]:
    now = "%(spending_now)s"
    return {
        "daily": f"(CASE WHEN {c}.daily_limit_next_at <= {now} THEN {c}.daily_limit_next ELSE {c}.daily_limit END)",
        "monthly": f"(CASE WHEN {c}.monthly_limit_next_at <= {now} "
        f"THEN {c}.monthly_limit_next ELSE {c}.monthly_limit END)",
        "paused": f"({c}.paused AND NOT coalesce({c}.unpause_at <= {now}, false))",
        "spent_day": f"(CASE WHEN {c}.tally_day = %(spending_today)s THEN {c}.spent_day ELSE 0 END)",
        "spent_month": f"(CASE WHEN {c}.tally_month = %(spending_month)s THEN {c}.spent_month ELSE 0 END)",
    }


def spending_lock_sql(*, name: str, payer: str) -> str:
    """A common table expression `name` that locks the payer's controls row (`payer`: SQL of a user id)."""
    return f"{name} AS (SELECT * FROM {SpendingControls._meta.db_table} WHERE user_id = {payer} FOR UPDATE)"  # noqa: S608


def spending_allows_sql(*, controls: str, user: str, total: str, confirmable: bool) -> str:
    """`spending_check` as a SQL condition over the locked controls row `controls`, the payer's user
    row `user` and the spend's `total` (SQL expressions); `confirmable`: the confirmation step applies."""
    e = _effective_sql(controls)
    verified = User.AgeVerification.VERIFIED.value
    condition = (
        f"NOT {e['paused']} AND {e['spent_day']} + {total} <= {e['daily']}"
        f" AND {e['spent_month']} + {total} <= {e['monthly']}"
        f" AND ({user}.age_verification = '{verified}' OR {e['spent_day']} + {total} <= %(spending_allowance)s)"
    )
    if confirmable:
        condition += (
            f" AND (%(spending_confirmed)s OR {total} <= %(spending_confirm_over)s"
            f" OR NOT ({user}.date_joined > %(spending_young_since)s))"
        )
    return condition


def spending_tally_sql(*, payer: str, total: str, after: str) -> str:
    """An UPDATE adding `total` to the payer's tally, run only with a row of `after` (e.g. the debit)."""
    table = SpendingControls._meta.db_table
    e = _effective_sql("c")
    return (
        f"UPDATE {table} c SET tally_day = %(spending_today)s, spent_day = {e['spent_day']} + {total}, "  # noqa: S608
        f"tally_month = %(spending_month)s, spent_month = {e['spent_month']} + {total}, "
        f"updated_at = %(spending_now)s FROM {after} WHERE c.user_id = {payer} RETURNING 1"
    )


def spending_sql_params(*, now: datetime, confirmed: bool = False) -> dict[str, object]:
    """The parameters of the SQL twins at `now`."""
    today = timezone.localdate(now)
    return {
        "spending_now": now,
        "spending_today": today,
        "spending_month": today.replace(day=1),
        "spending_allowance": settings.AGE_UNVERIFIED_SPEND_DAILY_COINS,
        "spending_confirmed": confirmed,
        "spending_confirm_over": settings.SPENDING_CONFIRM_GIFT_COINS,
        "spending_young_since": now - timedelta(days=settings.SPENDING_CONFIRM_ACCOUNT_DAYS),
    }
