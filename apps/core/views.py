"""Health endpoints for load balancers and Kubernetes probes (plain Django: no auth, no throttling)
and the links to private media on the filesystem.

Errors under /api/ leave in the one JSON shape through apps.core.middleware.ApiErrorShapeMiddleware
(in every mode, DEBUG included); pages keep Django's own error pages.
"""

import mimetypes
from dataclasses import asdict

from django.http import FileResponse, Http404, HttpRequest, HttpResponseForbidden, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext

from apps.core.error_catalogue import error_catalogue
from apps.core.selectors import readiness_failures
from apps.core.storage import PrivateLinkInvalid, private_media_open


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Database, cache and channel layer reachable; 503 naming what failed otherwise."""
    failures = readiness_failures()
    if failures:
        return JsonResponse({"status": "unavailable", "failed": failures}, status=503)
    return JsonResponse({"status": "ok"})


def private_media(request: HttpRequest, token: str) -> HttpResponseBase:
    """A private file behind a link the private storage signed (filesystem storage only).

    The link is the authorisation: whoever handed it out checked the viewer. Forged or expired
    links are refused with 403, as an object store refuses a bad presigned URL.
    """
    try:
        handle = private_media_open(token=token)
    except PrivateLinkInvalid:
        return HttpResponseForbidden(gettext("This link is not valid or has expired."), content_type="text/plain")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    content_type = mimetypes.guess_type(handle.name or "")[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def error_catalogue_page(request: HttpRequest) -> HttpResponseBase:
    """Every error code of the API with its status, meaning and what to do (apps.core.error_catalogue)."""
    if request.GET.get("format") == "json":
        return JsonResponse({"errors": [asdict(entry) for entry in error_catalogue()]})
    return render(request, "core/error_catalogue.html", {"entries": error_catalogue()})
