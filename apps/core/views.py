"""Health endpoints for load balancers and Kubernetes probes (plain Django: no auth, no throttling)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from django.views.defaults import server_error as default_server_error

from apps.core.exception_handler import json_404, json_500
from apps.core.selectors import readiness_failures


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Database, cache and channel layer reachable; 503 naming what failed otherwise."""
    failures = readiness_failures()
    if failures:
        return JsonResponse({"status": "unavailable", "failed": failures}, status=503)
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """JSON for the API, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return json_404(request, exception)
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_500(request)
    return default_server_error(request)
