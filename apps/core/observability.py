"""Request ids in every log record, and Sentry when a DSN is set.

Imported by settings (keep it free of models and of anything that needs Django set up).

- The request id lives in a contextvar: `RequestIdMiddleware` sets it from `X-Request-ID` (or makes
  one), `RequestIdFilter` copies it onto every log record, Celery tasks carry it in a message header
  so a task's logs share the id of the request that queued it.
- `sentry_init` turns Sentry on only when `SENTRY_DSN` is set, with the Django, Celery, Redis and
  logging integrations; sample rates come from the environment (see .env.example).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
CELERY_HEADER = "halobuzz_request_id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("halobuzz_request_id", default=None)


def request_id_get() -> str | None:
    """The id of the request (or task) being handled in this context, if any."""
    return request_id_var.get()


def request_id_from_header(value: str | None) -> str:
    """Keep a caller's id when it is a sane token (so traces join up across services), else make one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record (`-` outside a request) so formatters can always use it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return True


# --- Celery: carry the id from the request that queued a task into the task's logs ---------------


def _celery_before_publish(headers: dict | None = None, **_: Any) -> None:
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers.setdefault(CELERY_HEADER, request_id)


def _celery_prerun(task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    request_id = getattr(request, CELERY_HEADER, None) if request is not None else None
    if request_id is None and request is not None:
        request_id = (getattr(request, "headers", None) or {}).get(CELERY_HEADER)
    request_id_var.set(request_id or f"task-{getattr(request, 'id', None) or uuid.uuid4().hex}")


def _celery_postrun(**_: Any) -> None:
    request_id_var.set(None)


def celery_request_ids_connect() -> None:
    """Connect the Celery signals (idempotent: `dispatch_uid`)."""
    from celery import signals

    signals.before_task_publish.connect(_celery_before_publish, weak=False, dispatch_uid="hb_request_id_publish")
    signals.task_prerun.connect(_celery_prerun, weak=False, dispatch_uid="hb_request_id_prerun")
    signals.task_postrun.connect(_celery_postrun, weak=False, dispatch_uid="hb_request_id_postrun")


# --- Sentry ---------------------------------------------------------------------------------------


def _sentry_before_send(event: Any, hint: Any) -> Any:
    request_id = request_id_var.get()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def sentry_init(
    *,
    dsn: str,
    environment: str,
    release: str,
    traces_sample_rate: float,
    profiles_sample_rate: float,
    send_default_pii: bool = False,
) -> bool:
    """Start Sentry when a DSN is configured; returns whether it was started."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.redis import RedisIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(monitor_beat_tasks=False),
            RedisIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        traces_sample_rate=traces_sample_rate,
        profiles_sample_rate=profiles_sample_rate,
        # Phone numbers, tokens and emails stay out of Sentry unless ops opt in.
        send_default_pii=send_default_pii,
        before_send=_sentry_before_send,
    )
    return True


# --- Celery worker metrics ------------------------------------------------------------------------


def _worker_metrics_server(port: int) -> None:
    import os

    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    import apps.core.metrics  # noqa: F401  (defines the metrics, connects the model signals)

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The prefork children write their samples to the directory; the main process serves the sum.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    start_http_server(port, registry=registry)
    logging.getLogger(__name__).info("celery worker metrics listening", extra={"port": port})


def celery_worker_metrics_connect(port: int) -> None:
    """Serve the worker's metrics (moderation verdict latency, payment outcomes...) on `port` once it is ready.

    Bound on all interfaces for the Prometheus scraper inside the cluster; no Service exposes it.
    """
    if not port:
        return
    from celery import signals

    def _on_ready(**_: Any) -> None:
        _worker_metrics_server(port)

    signals.worker_ready.connect(_on_ready, weak=False, dispatch_uid="hb_worker_metrics")
