"""Production processes for real: gunicorn with several workers adds their metrics up; secrets come
only from the environment."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _test_db_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def gunicorn(tmp_path, db):
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"stale file from a previous run")
    env = {
        **os.environ,
        "DATABASE_URL": _test_db_url(),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "false",
        "METRICS_TOKEN": "scrape-token-for-test",
    }
    process = subprocess.Popen(  # noqa: S603
        [str(GUNICORN), "--config", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "halobuzz.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("gunicorn did not start")
        yield base, metrics_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_gunicorn_workers_metrics_are_added_up(gunicorn):
    base, metrics_dir = gunicorn
    assert not (metrics_dir / "counter_99999.db").exists(), "stale samples are wiped at start"
    for _ in range(24):
        # a fresh connection each time, so both workers take requests
        assert requests.get(f"{base}/api/v1/me/", headers={"Connection": "close"}, timeout=10).status_code == 401
    assert requests.get(f"{base}/metrics", timeout=10).status_code == 403
    response = requests.get(f"{base}/metrics", headers={"Authorization": "Bearer scrape-token-for-test"}, timeout=10)
    assert response.status_code == 200
    total = sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "halobuzz_http_requests_total" and sample.labels.get("view") == "me"
    )
    assert total == 24
    assert any(metrics_dir.glob("counter_*.db"))


def test_production_mode_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "halobuzz.settings"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.slow
def test_a_celery_worker_serves_its_metrics_when_asked(tmp_path, db):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _test_db_url(),
        "CELERY_METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    worker = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "halobuzz",
            "worker",
            "-l",
            "warning",
            "--concurrency",
            "1",
            "-n",
            f"metrics-test-{port}@%h",
            "-Q",
            f"metrics-test-{port}",  # a queue nobody sends to: this worker takes no one's tasks
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            try:
                response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            raise AssertionError("the worker never served /metrics")
        assert response.status_code == 200
        assert "# TYPE halobuzz_websocket_connections gauge" in response.text
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
