"""Writes of the OG app: buying, renewing and upgrading memberships, daily bonuses, expiry.

Every coin moves through the wallet ledger: a purchase is one entry (member -charged, OG sales
+charged); a daily bonus is one entry (issuance -bonus, member +bonus).

Upgrade credit (the documented rounding rule): the unused time of the current membership is valued
at the rate of its latest purchase, pro rata by the whole second and rounded DOWN to a whole coin:

    credit = paid_price_coins * remaining_seconds // (paid_duration_days * 86400)

The upgrade starts a fresh period of the new tier now. The member pays `max(0, price - credit)`;
if the credit is worth more than one period, no coins move and the surplus becomes extra time at
the new tier's rate (`credit * period_seconds // price` seconds, rounded down), so nothing is lost
but less than one coin (or one second).
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import user_require_adult
from apps.core.timestamps import iso_utc
from apps.og.exceptions import OgDowngradeWhileActive, OgTierUnknown
from apps.og.models import OgDailyBonus, OgMembership, OgPurchase, OgTier
from apps.wallet.exceptions import DuplicateEntry
from apps.wallet.services import account_for_user, coins_account_lock, ledger_post, platform_account
from apps.wallet.types import AccountKind

logger = logging.getLogger(__name__)

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class OgQuote:
    kind: str
    price_coins: int
    credit_coins: int
    charged_coins: int
    expires_at: datetime


def _is_active(membership: OgMembership | None, now: datetime) -> bool:
    return membership is not None and membership.status == OgMembership.Status.ACTIVE and membership.expires_at > now


def og_upgrade_credit(*, membership: OgMembership, now: datetime) -> int:
    """Coins the unused time of this membership is worth (see the module docstring for the rule)."""
    if not _is_active(membership, now):
        return 0
    remaining_seconds = int((membership.expires_at - now).total_seconds())
    return membership.paid_price_coins * remaining_seconds // (membership.paid_duration_days * DAY_SECONDS)


def og_quote(*, membership: OgMembership | None, tier: OgTier, now: datetime) -> OgQuote:
    """What buying `tier` would do now: buy, renew or upgrade, the credit, the charge and the new expiry.

    Raises OgDowngradeWhileActive for a lower tier while the membership is active.
    """
    period = timedelta(days=tier.duration_days)
    if not _is_active(membership, now):
        return OgQuote(OgPurchase.Kind.BUY, tier.price_coins, 0, tier.price_coins, now + period)
    assert membership is not None
    current = membership.tier
    if tier.pk == current.pk:
        return OgQuote(OgPurchase.Kind.RENEW, tier.price_coins, 0, tier.price_coins, membership.expires_at + period)
    if tier.level < current.level:
        raise OgDowngradeWhileActive(
            details={
                "current_level": current.level,
                "requested_level": tier.level,
                "expires_at": iso_utc(membership.expires_at),
            }
        )
    credit = og_upgrade_credit(membership=membership, now=now)
    charged = max(0, tier.price_coins - credit)
    seconds = max(tier.duration_days * DAY_SECONDS, credit * tier.duration_days * DAY_SECONDS // tier.price_coins)
    return OgQuote(OgPurchase.Kind.UPGRADE, tier.price_coins, credit, charged, now + timedelta(seconds=seconds))


@transaction.atomic
def og_buy(*, user: User, tier_id: int) -> OgPurchase:
    """Buy, renew (same tier: the expiry moves one period later) or upgrade (higher tier) OG.

    One transaction: the purchase record, the membership and one ledger entry commit together or
    not at all. Refused: minors (AgeRestricted), unknown or retired tiers (OgTierUnknown), a lower
    tier while active (OgDowngradeWhileActive), too few coins (InsufficientCoins).
    """
    user_require_adult(user=user)
    tier = OgTier.objects.filter(pk=tier_id, is_active=True).first()
    if tier is None:
        raise OgTierUnknown(details={"tier": tier_id})

    # The member's coin account row is the per-user lock: purchases of one user run one at a time
    # (the same row the ledger locks for the debit, so no second lock order exists).
    coins_account_lock(user_id=user.pk)
    membership = OgMembership.objects.select_related("tier").filter(user=user).first()
    now = timezone.now()
    quote = og_quote(membership=membership, tier=tier, now=now)

    previous_tier = membership.tier if membership is not None and _is_active(membership, now) else None
    purchase = OgPurchase.objects.create(
        user=user,
        tier=tier,
        kind=quote.kind,
        previous_tier=previous_tier,
        price_coins=quote.price_coins,
        credit_coins=quote.credit_coins,
        charged_coins=quote.charged_coins,
        expires_at=quote.expires_at,
    )
    if quote.charged_coins > 0:
        purchase.entry = ledger_post(
            kind="og_purchase",
            ref=str(purchase.pk),
            postings=[
                (account_for_user(user_id=user.pk), -quote.charged_coins),
                (platform_account(kind=AccountKind.OG_SALES), quote.charged_coins),
            ],
            memo=f"OG {tier.name} ({quote.kind})",
            created_by=user,
        )
        purchase.save(update_fields=["entry"])

    if membership is None:
        membership = OgMembership(user=user)
    if quote.kind != OgPurchase.Kind.RENEW:
        membership.started_at = now
    membership.tier = tier
    membership.status = OgMembership.Status.ACTIVE
    membership.expires_at = quote.expires_at
    membership.paid_price_coins = tier.price_coins
    membership.paid_duration_days = tier.duration_days
    membership.save()
    logger.info(
        "og purchase",
        extra={"user_id": user.pk, "tier": tier.level, "kind": quote.kind, "charged": quote.charged_coins},
    )
    return purchase


def og_daily_bonus_grant(*, membership_id: int, day: date) -> OgDailyBonus | None:
    """Grant one member's bonus for `day`; None when already granted, expired, or the tier has none.

    Safe to run any number of times, even at once: the unique (membership, day) row and the ledger's
    unique (og_daily_bonus, "<user>:<day>") ref both refuse a second grant.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            membership = OgMembership.objects.select_related("tier").get(pk=membership_id)
            coins = membership.tier.daily_bonus_coins
            if not _is_active(membership, now) or coins <= 0:
                return None
            entry = ledger_post(
                kind="og_daily_bonus",
                ref=f"{membership.user_id}:{day.isoformat()}",
                postings=[
                    (platform_account(kind=AccountKind.ISSUANCE), -coins),
                    (account_for_user(user_id=membership.user_id), coins),
                ],
                memo=f"OG {membership.tier.name} daily bonus {day.isoformat()}",
            )
            return OgDailyBonus.objects.create(
                membership=membership, tier=membership.tier, day=day, coins=coins, entry=entry
            )
    except (DuplicateEntry, IntegrityError):
        return None


def og_daily_bonus_grant_all(*, day: date | None = None) -> int:
    """Grant today's (local date) bonus to every active member still without one. Returns grants made."""
    day = day or timezone.localdate()
    pending = (
        OgMembership.objects.filter(
            status=OgMembership.Status.ACTIVE, expires_at__gt=timezone.now(), tier__daily_bonus_coins__gt=0
        )
        .exclude(bonuses__day=day)
        .values_list("pk", flat=True)
    )
    granted = sum(1 for pk in list(pending) if og_daily_bonus_grant(membership_id=pk, day=day) is not None)
    logger.info("og daily bonus", extra={"day": day.isoformat(), "granted": granted})
    return granted


def og_memberships_expire(*, now: datetime | None = None) -> int:
    """Mark memberships past their expiry as expired. Returns how many. Safe to rerun."""
    now = now or timezone.now()
    expired = OgMembership.objects.filter(status=OgMembership.Status.ACTIVE, expires_at__lte=now).update(
        status=OgMembership.Status.EXPIRED
    )
    if expired:
        logger.info("og memberships expired", extra={"count": expired})
    return expired
