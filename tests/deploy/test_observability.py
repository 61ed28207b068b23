"""Request ids in responses and in every log record of the request; Sentry only with a DSN."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from apps.core.observability import (
    CELERY_HEADER,
    RequestIdFilter,
    _celery_before_publish,
    _celery_prerun,
    request_id_var,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_log():
    """A handler configured like production's console handler (JSON + request id filter) on the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(settings.LOGGING["formatters"]["json"]["fmt"]))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)


@pytest.mark.django_db
def test_a_request_id_is_made_when_none_is_given(api_client):
    first = api_client.get("/api/v1/me/")["X-Request-ID"]
    second = api_client.get("/api/v1/me/")["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.django_db
def test_the_callers_request_id_is_kept_and_a_bad_one_replaced(api_client):
    assert api_client.get("/healthz", HTTP_X_REQUEST_ID="edge-7f3a.1")["X-Request-ID"] == "edge-7f3a.1"
    replaced = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert replaced != "bad id\nwith newline" and len(replaced) == 32


@pytest.mark.django_db
def test_every_log_record_of_a_request_carries_its_id(api_client, json_log):
    # a 401 is logged by Django ("django.request") after the middleware chain has returned
    response = api_client.get("/api/v1/me/", HTTP_X_REQUEST_ID="req-under-test-1")
    assert response.status_code == 401
    records = [r for r in json_log() if r.get("name") == "django.request"]
    assert records, "Django logs the 4xx"
    assert all(r["request_id"] == "req-under-test-1" for r in records)
    assert records[0]["levelname"] == "WARNING" and "asctime" in records[0]


def test_logs_outside_a_request_say_so(json_log):
    token = request_id_var.set(None)
    try:
        logging.getLogger("apps.test").warning("no request here")
    finally:
        request_id_var.reset(token)
    (record,) = [r for r in json_log() if r["name"] == "apps.test"]
    assert record["request_id"] == "-"


def test_celery_tasks_inherit_the_request_id_of_the_request_that_queued_them():
    class Request:
        id = "task-uuid"

    class Task:
        request = Request()

    token = request_id_var.set("req-42")
    try:
        headers: dict = {}
        _celery_before_publish(headers=headers)
        assert headers == {CELERY_HEADER: "req-42"}
    finally:
        request_id_var.reset(token)
    # the worker side: Celery copies message headers onto task.request
    setattr(Task.request, CELERY_HEADER, "req-42")
    _celery_prerun(task=Task())
    assert request_id_var.get() == "req-42"
    request_id_var.set(None)


def _settings_in_subprocess(env_extra: dict, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "halobuzz.settings", **env_extra}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sentry_starts_only_when_a_dsn_is_set():
    code = (
        "import sentry_sdk\n"
        "from django.conf import settings\n"
        "client = sentry_sdk.get_client()\n"
        "print(settings.SENTRY_ENABLED, client.is_active(), client.options.get('traces_sample_rate'),"
        " sorted(client.integrations) if client.is_active() else [])\n"
    )
    off = _settings_in_subprocess({"SENTRY_DSN": ""}, code)
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip().startswith("False False")
    on = _settings_in_subprocess(
        {"SENTRY_DSN": "https://public@sentry.invalid/1", "SENTRY_TRACES_SAMPLE_RATE": "0.25"}, code
    )
    assert on.returncode == 0, on.stderr
    line = on.stdout.strip()
    assert line.startswith("True True 0.25"), line
    assert "'django'" in line and "'celery'" in line
