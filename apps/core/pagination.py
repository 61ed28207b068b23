from typing import Any

from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

from apps.core.i18n import localize_digits


class FeedCursorPagination(CursorPagination):
    """Newest first; stable under inserts, so infinite-scroll feeds never repeat or skip rows.

    A page_size outside 1..max_page_size is a 400 (DRF would quietly use the default or the cap)."""

    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"
    ordering: str | tuple[str, ...] = "-created_at"

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            message = gettext("A whole number from 1 to %(most)s.") % {"most": localize_digits(self.max_page_size)}
            raise ValidationError({self.page_size_query_param: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=self.page_size)
        return parameters


class SearchCursorPagination(FeedCursorPagination):
    """Search results, most relevant first: the selectors annotate `score` (relevance, rounded, so the
    same for a row on every page of one query) and `popularity`, the tie-break. The cursor holds the
    last score (and an offset among equal ones), so paging never repeats or skips a row unless its
    popularity moves between pages."""

    ordering = ("-score", "-popularity", "-id")
