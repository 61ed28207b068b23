"""The admin analytics page (/admin/analytics/): staff with the `core.view_analytics` permission only."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.core.analytics import PERMISSION, analytics_report

PERIODS = (7, 14, 30, 90)

# The admin index links here (for those allowed) from its own template.
admin.site.index_template = "admin/analytics_index.html"


def analytics_view(request: HttpRequest) -> TemplateResponse:
    """Wrapped in admin.site.admin_view by the URLconf: signed-in, active staff only."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    try:
        days = int(request.GET.get("days", 14))
    except ValueError:
        days = 14
    if days not in PERIODS:
        days = 14
    context = {
        **admin.site.each_context(request),
        "title": f"Analytics: the last {days} days",
        "periods": PERIODS,
        "report": analytics_report(days=days),
    }
    return TemplateResponse(request, "admin/analytics.html", context)
