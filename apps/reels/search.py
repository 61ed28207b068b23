"""Searching reels by caption, hashtags included (the romanised key, apps.core.search)."""

from django.db.models import F, Prefetch, QuerySet

from apps.accounts.models import User
from apps.accounts.search import hidden_user_ids
from apps.accounts.selectors import blocked_either_way
from apps.core.search import SearchTerms, search_filter
from apps.reels.models import Reel


def reel_search(*, viewer: User, terms: SearchTerms, bare: int | None = None) -> QuerySet[Reel]:
    """Published reels whose caption matches `terms`, by active unbanned authors neither blocking the
    viewer nor blocked by them; annotated score and popularity (likes) for SearchCursorPagination."""
    qs = Reel.objects.filter(status=Reel.Status.PUBLISHED).exclude(author_id__in=hidden_user_ids())
    qs = qs.exclude(blocked_either_way(user=viewer, field="author_id"))
    # The authors of the page only, in a second query (a join would come before the ranking).
    # reel_search_likes_idx: a common word's reels are read most liked first (apps.core.search)
    # bare: what search_bare_counts gave for reel_search_table() (apps.core.search.search_filter)
    return search_filter(qs, terms, popularity=F("likes_count"), popularity_indexed=True, bare=bare).prefetch_related(
        Prefetch("author", queryset=User.objects.only("id", "username", "display_name"))
    )


def reel_search_table() -> QuerySet[Reel]:
    """The table reel_search reads, for apps.core.search.search_bare_counts (several searches counted at once)."""
    return Reel.objects.all()
