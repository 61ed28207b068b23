"""Retiring part of /api/v1/ (README, "API versioning"): what is being retired keeps working and says so.

`Deprecation` (RFC 9745) carries the date it was deprecated, `Sunset` (RFC 8594) the date it may
stop answering, and `Link` (RFC 8288) its successor, so clients can move before anything breaks.
"""

from datetime import datetime
from typing import Any

from django.http import HttpResponseBase
from django.urls import reverse
from django.utils.http import http_date
from rest_framework.request import Request


def mark_deprecated(
    response: HttpResponseBase, *, since: datetime, sunset: datetime | None = None, successor: str | None = None
) -> HttpResponseBase:
    response["Deprecation"] = f"@{int(since.timestamp())}"
    if sunset is not None:
        response["Sunset"] = http_date(sunset.timestamp())
    if successor:
        response["Link"] = f'<{successor}>; rel="successor-version"'
    return response


class DeprecatedApiMixin:
    """A view (put before the APIView it retires) whose every answer carries the deprecation headers.

    Keep it out of the schema (`extend_schema_view(... exclude=True)`) when a successor is documented.
    """

    deprecated_since: datetime
    sunset: datetime | None = None
    successor_url_name: str | None = None

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        successor = request.build_absolute_uri(reverse(self.successor_url_name)) if self.successor_url_name else None
        return mark_deprecated(response, since=self.deprecated_since, sunset=self.sunset, successor=successor)
