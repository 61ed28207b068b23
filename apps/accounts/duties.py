"""Separation of duties among staff: a role rank, and the two rules every staff service applies.

Rank: superuser > Ops (the admins) > other staff (Finance, Moderators) > users. Staff act only on
accounts strictly below their own rank (ban, unban, deactivate, edit, grant roles, sanctions), and
nobody decides a request of their own or about themselves (cash-outs, appeals, grants of coins or
OG, age reviews, moderation cases).
"""

from enum import IntEnum

from apps.accounts.exceptions import OwnRequest, RankTooLow
from apps.accounts.models import User

ADMIN_GROUPS = ("Ops",)


class Rank(IntEnum):
    USER = 0
    STAFF = 1
    ADMIN = 2
    SUPERUSER = 3


def role_rank(user: User) -> Rank:
    if user.is_superuser:
        return Rank.SUPERUSER
    if not user.is_staff:
        return Rank.USER
    if user.groups.filter(name__in=ADMIN_GROUPS).exists():
        return Rank.ADMIN
    return Rank.STAFF


def outranks(actor: User, target: User) -> bool:
    return actor.pk != target.pk and role_rank(actor) > role_rank(target)


def require_outranks(*, actor: User, target: User) -> None:
    """Refuse (403 rank_too_low) unless `actor` ranks strictly above `target` (never themselves)."""
    if actor.pk == target.pk:
        raise OwnRequest()
    if not outranks(actor, target):
        raise RankTooLow(details={"user_id": target.pk})


def require_not_own(*, actor: User, owner_id: int | None) -> None:
    """Refuse (403 own_request) a decision about the actor's own request or account."""
    if owner_id is not None and actor.pk == owner_id:
        raise OwnRequest()
