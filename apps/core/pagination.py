from rest_framework.pagination import CursorPagination


class FeedCursorPagination(CursorPagination):
    """Newest first; stable under inserts, so infinite-scroll feeds never repeat or skip rows."""

    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"
    ordering = "-created_at"
