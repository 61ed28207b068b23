"""Every public API endpoint is rate limited: an audit of the URLconf's DRF views and their throttles."""

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView


def api_views():
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                cls = getattr(entry.callback, "cls", None)
                if cls is not None and issubclass(cls, APIView):
                    yield prefix + str(entry.pattern), cls

    return sorted(set(walk(get_resolver().url_patterns)), key=lambda item: item[0])


VIEWS = api_views()


def test_the_audit_sees_the_api():
    routes = [route for route, _ in VIEWS]
    assert any(route.startswith("api/v1/auth/login") for route in routes)
    assert len(VIEWS) >= 10


@pytest.mark.parametrize(("route", "view"), VIEWS, ids=[route for route, _ in VIEWS])
def test_every_api_view_is_throttled(route, view):
    throttles = list(view.throttle_classes)
    assert throttles, f"{route} ({view.__name__}) has no throttle"
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    for throttle in throttles:
        assert issubclass(throttle, SimpleRateThrottle), throttle
        scope = getattr(view, "throttle_scope", None) if issubclass(throttle, ScopedRateThrottle) else throttle.scope
        assert scope in rates, f"{route}: throttle scope {scope!r} has no rate in DEFAULT_THROTTLE_RATES"
    permissions = view.permission_classes or api_settings.DEFAULT_PERMISSION_CLASSES
    if any(p is AllowAny for p in permissions):
        # open to anonymous callers: the tightest limit that counts them must be modest
        per_minute = []
        for throttle in throttles:
            if issubclass(throttle, UserRateThrottle) and not issubclass(throttle, AnonRateThrottle):
                scope = throttle.scope
            elif issubclass(throttle, ScopedRateThrottle):
                scope = view.throttle_scope
            else:
                scope = throttle.scope
            num, seconds = _parse(rates[scope])
            per_minute.append(num * 60 / seconds)
        assert min(per_minute) <= 600, f"{route} lets anonymous callers make {min(per_minute):.0f} requests/min"


def _parse(rate: str) -> tuple[int, int]:
    num, period = rate.split("/")
    return int(num), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
