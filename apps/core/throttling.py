"""Throttles that read their rates from settings when they run, and know clients by
apps.core.client_address (the proxies the deployment trusts, TRUSTED_PROXY_COUNT).

DRF's SimpleRateThrottle copies REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] into a class attribute at
import time, so a rate changed later (override_settings in tests, a reloaded config) never applies.
"""

from typing import TYPE_CHECKING, Any

from rest_framework import throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from apps.core.client_address import client_address
from apps.core.counters import fixed_window_incr

if TYPE_CHECKING:  # rest_framework.views imports this module (DEFAULT_THROTTLE_CLASSES)
    from rest_framework.views import APIView


class ClientAddressMixin:
    """DRF's own get_ident reads X-Forwarded-For by REST_FRAMEWORK["NUM_PROXIES"] (set from the same
    setting); this keeps every throttle on the one helper."""

    def get_ident(self, request: Request) -> str:
        return client_address(request)


class AnonRateThrottle(ClientAddressMixin, throttling.AnonRateThrottle):
    """DRF's limit for anonymous callers, per client address."""

    @property
    def THROTTLE_RATES(self) -> dict[str, Any]:  # type: ignore[override]  # noqa: N802  (DRF's class attribute, read per request)
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    """DRF's ScopedRateThrottle (view attribute `throttle_scope`), with rates read on every request."""

    @property
    def THROTTLE_RATES(self) -> dict[str, Any]:  # type: ignore[override]  # noqa: N802  (DRF's class attribute, read per request)
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates


class UserRateThrottle(ClientAddressMixin, throttling.UserRateThrottle):
    """DRF's per-user limit, counted in a window that opens with the user's first request: one
    counter bumped in one Redis round trip (apps.core.counters.fixed_window_incr). DRF's own reads a
    list of request times, trims it and writes it back (two round trips and a pickle of up to
    `num_requests` floats on every request), which cost more than the rest of a gift send's Redis
    work. A burst at a window's edge may reach twice the rate for a moment; sign-up and login keep
    DRF's sliding window (ScopedRateThrottle)."""

    @property
    def THROTTLE_RATES(self) -> dict[str, Any]:  # type: ignore[override]  # noqa: N802  (DRF's class attribute, read per request)
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        return rates

    def allow_request(self, request: Request, view: "APIView") -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        # num_requests and duration: parsed from the rate by DRF's __init__ (absent from its stubs).
        count, self.seconds_left = fixed_window_incr(self.key, self.duration)  # type: ignore[attr-defined]
        return bool(count <= self.num_requests)  # type: ignore[attr-defined]

    def wait(self) -> float | None:
        return self.seconds_left
