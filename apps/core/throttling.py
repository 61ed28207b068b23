"""Throttles that read their rates from settings when they run.

DRF's SimpleRateThrottle copies REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] into a class attribute at
import time, so a rate changed later (override_settings in tests, a reloaded config) never applies.
"""

from rest_framework import throttling
from rest_framework.settings import api_settings


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's ScopedRateThrottle (view attribute `throttle_scope`), with rates read on every request."""

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:  # noqa: N802  (the name DRF looks up)
        return api_settings.DEFAULT_THROTTLE_RATES
