"""Throttles that read their rates from settings when they run, and know clients by
apps.core.client_address (the proxies the deployment trusts, TRUSTED_PROXY_COUNT).

DRF's SimpleRateThrottle copies REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] into a class attribute at
import time, so a rate changed later (override_settings in tests, a reloaded config) never applies.
"""

from dataclasses import dataclass
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


@dataclass(frozen=True)
class UserWindow:
    """The per-user limit a view applies to one user: the counter's cache key and window."""

    key: str
    seconds: int


_COUNTED_ATTR = "_user_window_counted"


def user_window_of(*, view: object, user_id: object) -> UserWindow | None:
    """The window UserRateThrottle will count this user's request in on `view` (None: the view has no
    per-user limit, or no rate is set), for an authentication that counts it in its own round trip."""
    get_throttles = getattr(view, "get_throttles", None)
    if get_throttles is None:
        return None
    for throttle in get_throttles():
        if isinstance(throttle, UserRateThrottle) and throttle.rate is not None:
            key = throttle.cache_format % {"scope": throttle.scope, "ident": user_id}
            return UserWindow(key=key, seconds=throttle.duration)  # type: ignore[attr-defined]
    return None


def user_window_counted(request: Request, *, window: UserWindow, count: int, seconds_left: int) -> None:
    """Say that this request was already counted in `window` (count, this one included, and the
    seconds the window has left): UserRateThrottle then decides from these figures, not counting it
    twice."""
    setattr(request, _COUNTED_ATTR, (window.key, count, seconds_left))


class UserRateThrottle(ClientAddressMixin, throttling.UserRateThrottle):
    """DRF's per-user limit, counted in a window that opens with the user's first request: one
    counter bumped in one Redis round trip (apps.core.counters.fixed_window_incr). DRF's own reads a
    list of request times, trims it and writes it back (two round trips and a pickle of up to
    `num_requests` floats on every request), which cost more than the rest of a gift send's Redis
    work. A burst at a window's edge may reach twice the rate for a moment; sign-up and login keep
    DRF's sliding window (ScopedRateThrottle).

    A hot endpoint's authentication may count the request in its own round trip (`user_window_of`,
    `user_window_counted`): the decision is then made from its figures."""

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
        counted = getattr(request, _COUNTED_ATTR, None)
        if counted is not None and counted[0] == self.key:
            count, self.seconds_left = counted[1], counted[2]
        else:
            # num_requests and duration: parsed from the rate by DRF's __init__ (absent from its stubs).
            count, self.seconds_left = fixed_window_incr(self.key, self.duration)  # type: ignore[attr-defined]
        return bool(count <= self.num_requests)  # type: ignore[attr-defined]

    def wait(self) -> float | None:
        return self.seconds_left
