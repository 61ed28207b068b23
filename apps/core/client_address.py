"""The client's address, the one way every throttle, limit and log line derives it.

X-Forwarded-For is whatever the caller wrote, plus one entry per proxy that appended to it. Only the
entries the deployment's own proxies wrote can be trusted: TRUSTED_PROXY_COUNT of them (0 embedded:
REMOTE_ADDR is the client; 1 behind the compose nginx or the Kubernetes ingress-nginx, each of which
sets the header to the peer it saw). The address is the entry that many places from the right; a
forged entry further left is never read.
"""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address of whoever sent the request to our first trusted proxy (or to us)."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote  # reached us without our proxy (a probe on the pod's address)
    return forwarded[-min(trusted, len(forwarded))]
