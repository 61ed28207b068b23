"""Prometheus metrics: HTTP traffic, domain events other apps record, and database gauges at scrape time.

Other apps record events through the small functions below (call them after the change commits,
e.g. inside `transaction.on_commit`), never by touching the metric objects:

    from apps.core import metrics
    metrics.gift_sent(coins=50)                      # one gift of 50 coins
    metrics.coins_moved(kind="gift", coins=50)       # coins moved by a ledger entry of that kind
    metrics.payment_outcome(gateway="esewa", outcome="completed")
    metrics.moderation_verdict(seconds=1.8, verdict="safe")  # upload -> verdict latency
    metrics.ws_connection_opened() / metrics.ws_connection_closed()

Gunicorn runs several worker processes: set PROMETHEUS_MULTIPROC_DIR (an empty, writable directory,
wiped at each start) in the environment of gunicorn, daphne and Celery so every process writes its
samples there and /metrics adds them up (deploy/gunicorn.conf.py marks dead workers). Without it,
each process reports only itself, which is right for a single daphne or the embedded default.

/metrics is protected: with METRICS_TOKEN set it needs `Authorization: Bearer <token>`; without a
token only clients in METRICS_ALLOWED_NETWORKS (default: loopback) may read it.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger(__name__)

disable_created_metrics()  # no `_created` twin for every counter: Prometheus does not need it

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if MULTIPROCESS:
    # prometheus-client opens its files there as soon as a metric is defined (below). gunicorn's hook
    # makes the directory, but daphne and Celery start on an empty /tmp in a pod (an emptyDir).
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# --- HTTP (recorded by apps.core.middleware.RequestMetricsMiddleware) -----------------------------
HTTP_REQUESTS = Counter(
    "halobuzz_http_requests",
    "HTTP requests answered, by view name, method and status code.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "halobuzz_http_request_duration_seconds",
    "Time from the first middleware to the response, by view name and method.",
    ["view", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_EXCEPTIONS = Counter(
    "halobuzz_http_exceptions", "Unhandled exceptions raised by views, by view and exception type.", ["view", "type"]
)

# --- Domain events (recorded by the apps through the functions below) -----------------------------
GIFTS_SENT = Counter("halobuzz_gifts_sent", "Gifts sent.")
GIFT_COINS = Counter("halobuzz_gift_coins", "Coins spent on gifts.")
COINS_MOVED = Counter("halobuzz_coins_moved", "Coins moved by ledger entries, by entry kind.", ["kind"])
PAYMENT_OUTCOMES = Counter(
    "halobuzz_payment_outcomes",
    "Top-up payments that reached a final state, by gateway and outcome.",
    ["gateway", "outcome"],
)
MODERATION_VERDICT_LATENCY = Histogram(
    "halobuzz_moderation_verdict_seconds",
    "Time from a frame or reel upload to the model's verdict, by verdict.",
    ["verdict"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)
WS_CONNECTIONS = Gauge(
    "halobuzz_websocket_connections",
    "Open WebSocket connections (summed over live processes).",
    multiprocess_mode="livesum",
)
WS_CONNECTS = Counter("halobuzz_websocket_connects", "WebSocket connections accepted.")


def _label(value: str, limit: int = 40) -> str:
    """Labels come from code, but keep them short and printable so a typo cannot explode cardinality."""
    return "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in str(value))[:limit] or "unknown"


def gift_sent(*, coins: int) -> None:
    GIFTS_SENT.inc()
    GIFT_COINS.inc(max(coins, 0))


def coins_moved(*, kind: str, coins: int) -> None:
    COINS_MOVED.labels(kind=_label(kind)).inc(abs(coins))


def payment_outcome(*, gateway: str, outcome: str) -> None:
    PAYMENT_OUTCOMES.labels(gateway=_label(gateway), outcome=_label(outcome)).inc()


def moderation_verdict(*, seconds: float, verdict: str) -> None:
    MODERATION_VERDICT_LATENCY.labels(verdict=_label(verdict)).observe(max(seconds, 0.0))


def ws_connection_opened() -> None:
    WS_CONNECTS.inc()
    WS_CONNECTIONS.inc()


def ws_connection_closed() -> None:
    WS_CONNECTIONS.dec()


def http_observe(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in KNOWN_METHODS else "other"
    HTTP_REQUESTS.labels(view=view, method=method, status=str(status)).inc()
    HTTP_LATENCY.labels(view=view, method=method).observe(seconds)


# --- Gauges computed from the database at scrape time ---------------------------------------------


@dataclass(frozen=True)
class DbGauge:
    """One number read from the database, registered by the app that owns it (apps.core.analytics.OpsReads).
    `query` returns it; a query that fails (a table not migrated yet) skips the gauge."""

    name: str
    documentation: str
    query: Callable[[], float | int | None]


def db_gauges() -> list[DbGauge]:
    """The gauges every installed app registers (`OPS_READS.gauges` in apps/<app>/metrics.py)."""
    from apps.core.analytics import ops_reads

    return [gauge for reads in ops_reads() for gauge in reads.gauges]


@dataclass
class _Snapshot:
    at: float = 0.0
    values: dict[str, float] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)


class DatabaseCollector:
    """Reads the apps' gauges at most every METRICS_DB_CACHE_SECONDS per process, each under a statement timeout.

    A gauge whose app has no such model or table yet (or whose query fails) is left out of the
    scrape and counted in `halobuzz_metrics_db_gauge_errors`; the others still answer.
    """

    _lock = threading.Lock()
    _snapshot = _Snapshot()

    def __init__(self, gauges: list[DbGauge] | None = None) -> None:
        self.gauges = db_gauges() if gauges is None else gauges

    @classmethod
    def reset(cls) -> None:
        cls._snapshot = _Snapshot()

    def _read(self) -> _Snapshot:
        snapshot = _Snapshot(at=time.monotonic())
        timeout_ms = int(settings.METRICS_DB_TIMEOUT_MS)
        for gauge in self.gauges:
            try:
                with transaction.atomic():
                    if connection.vendor == "postgresql":
                        with connection.cursor() as cursor:
                            cursor.execute("SET LOCAL statement_timeout = %s", [timeout_ms])
                    value = gauge.query()
            except (LookupError, DatabaseError, AttributeError, ImportError) as exc:
                logger.debug("metrics gauge skipped", extra={"gauge": gauge.name, "error": type(exc).__name__})
                snapshot.errors[gauge.name] = 1
                continue
            if value is not None:
                snapshot.values[gauge.name] = float(value)
        return snapshot

    def snapshot(self) -> _Snapshot:
        ttl = float(settings.METRICS_DB_CACHE_SECONDS)
        with self._lock:
            if time.monotonic() - type(self)._snapshot.at >= ttl or not type(self)._snapshot.at:
                type(self)._snapshot = self._read()
            return type(self)._snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.snapshot()
        for gauge in self.gauges:
            if gauge.name in snapshot.values:
                yield GaugeMetricFamily(gauge.name, gauge.documentation, value=snapshot.values[gauge.name])
        errors = GaugeMetricFamily(
            "halobuzz_metrics_db_gauge_errors",
            "1 for each database gauge that could not be read at the last refresh.",
            labels=["gauge"],
        )
        for name in snapshot.errors:
            errors.add_metric([name], 1)
        yield errors


class _ProcessRegistry:
    """Forwards this process's default registry (single-process mode)."""

    def collect(self):
        yield from REGISTRY.collect()


def metrics_payload() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


# --- Access control -------------------------------------------------------------------------------


def _client_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    # No token: only from the configured networks. REMOTE_ADDR is the direct peer (never a forwarded
    # header), so a request relayed by an ingress counts as coming from the ingress: use a token there.
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition of this deployment's metrics (see the module docstring for access)."""
    if not _client_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics_payload(), content_type=CONTENT_TYPE_LATEST)
