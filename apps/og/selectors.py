"""Reads of OG tiers and memberships. Other apps rely on `user_has_active_og` and `user_og_badge`."""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.og.models import OgMembership, OgTier


def _active_memberships() -> QuerySet[OgMembership]:
    # A membership past its expiry counts as over even before the expiry task marks it.
    return OgMembership.objects.filter(status=OgMembership.Status.ACTIVE, expires_at__gt=timezone.now())


def og_badge_dict(tier: OgTier) -> dict[str, Any]:
    return {
        "level": tier.level,
        "name": tier.name,
        "badge": tier.badge,
        "chat_color": tier.chat_color,
        "entrance_effect": tier.entrance_effect,
    }


def user_has_active_og(*, user_id: int) -> bool:
    """True while the user holds an unexpired OG membership of any tier."""
    return _active_memberships().filter(user_id=user_id).exists()


def user_og_badge(*, user_id: int) -> dict[str, Any] | None:
    """What the room shows next to an OG member: {level, name, badge, chat_color, entrance_effect}; None otherwise."""
    membership = _active_memberships().filter(user_id=user_id).select_related("tier").first()
    return og_badge_dict(membership.tier) if membership else None


def users_og_badges(*, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`user_og_badge` for many users in one query (lists: viewers, leaderboards); members only."""
    memberships = _active_memberships().filter(user_id__in=user_ids).select_related("tier")
    return {m.user_id: og_badge_dict(m.tier) for m in memberships}


def user_can_send_og_gifts(*, user_id: int) -> bool:
    """True while the user's active tier has the OG-only gifts perk."""
    return _active_memberships().filter(user_id=user_id, tier__og_only_gifts=True).exists()


def og_tier_list() -> QuerySet[OgTier]:
    """Tiers on sale, lowest level first."""
    return OgTier.objects.filter(is_active=True).order_by("level")


def og_membership_get(*, user_id: int) -> OgMembership | None:
    """The user's membership row (active or expired), with its tier; None if they never bought."""
    return OgMembership.objects.filter(user_id=user_id).select_related("tier").first()
