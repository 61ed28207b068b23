"""Searching users by username and display name (the romanised key, apps.core.search)."""

from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.selectors import blocked_either_way
from apps.core.search import SearchTerms, search_filter


def user_search(*, viewer: User, terms: SearchTerms, bare: int | None = None) -> QuerySet[User]:
    """Active, unbanned users matching `terms`, neither blocking the viewer nor blocked by them;
    annotated score (relevance) and popularity for SearchCursorPagination: the last sign-in, so that
    of two equally close names the account in use comes first (a column: a follower count per
    matching row would cost more than the whole search)."""
    qs = User.objects.filter(is_active=True).filter(Q(banned_until__isnull=True) | Q(banned_until__lte=timezone.now()))
    qs = qs.exclude(blocked_either_way(user=viewer)).only("id", "username", "display_name", "avatar")
    # user_search_recent_idx: a common name's users are read most recent first (apps.core.search)
    # bare: what search_bare_counts gave for user_search_table() (apps.core.search.search_filter)
    return search_filter(
        qs, terms, popularity=Coalesce("last_login", "date_joined"), popularity_indexed=True, bare=bare
    )


def hidden_user_ids() -> QuerySet[User, Any]:
    """Ids of the users nobody finds (deactivated or deleted, banned), for other apps' searches as
    `exclude(author_id__in=...)`: a few percent of the users, read on one small index holding them
    (user_hidden_idx, an index-only scan), so a search never joins the users table before ranking."""
    return User.objects.filter(Q(is_active=False) | Q(banned_until__gt=timezone.now())).values("pk")


def user_search_table() -> QuerySet[User]:
    """The table user_search reads, for apps.core.search.search_bare_counts (several searches counted at once)."""
    return User.objects.all()
