"""Searching live streams by title and host name (the romanised key, apps.core.search)."""

from django.db.models import F, Prefetch, QuerySet

from apps.accounts.models import User
from apps.accounts.search import hidden_user_ids
from apps.accounts.selectors import blocked_either_way
from apps.core.search import SearchTerms, search_filter, search_text
from apps.live.models import Stream


def stream_search(*, viewer: User, terms: SearchTerms, bare: int | None = None) -> QuerySet[Stream]:
    """Live streams whose title or host's name matches `terms` (never one that ended), by active
    unbanned hosts neither blocking the viewer nor blocked by them; annotated score and popularity
    (current viewers) for SearchCursorPagination."""
    qs = Stream.objects.filter(status=Stream.Status.LIVE).exclude(host_id__in=hidden_user_ids())
    qs = qs.exclude(blocked_either_way(user=viewer, field="host_id"))
    # stream_status_rank_idx: a common word's live streams are read most watched first (apps.core.search)
    # bare: what search_bare_counts gave for stream_search_table() (apps.core.search.search_filter)
    return search_filter(
        qs, terms, popularity=F("current_viewers"), popularity_indexed=True, bare=bare
    ).prefetch_related(Prefetch("host", queryset=User.objects.only("id", "username", "display_name")))


def stream_search_text_refresh_of_host(*, user_id: int) -> int:
    """The host renamed: their open streams' search key follows (ended ones are never searched)."""
    streams = list(Stream.objects.filter(host_id=user_id, status__in=Stream.ACTIVE_STATUSES).select_related("host"))
    for stream in streams:
        stream.search_text = search_text(stream.title, stream.host.username, stream.host.display_name)
    return Stream.objects.bulk_update(streams, ["search_text"]) if streams else 0


def stream_search_table() -> QuerySet[Stream]:
    """The table stream_search reads, for apps.core.search.search_bare_counts (several searches counted at once)."""
    return Stream.objects.all()
