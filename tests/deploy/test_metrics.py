"""/metrics: access control, HTTP and domain metrics, database gauges that tolerate missing tables."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from apps.core import metrics
from apps.live.services import stream_go_live
from tests.accounts.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_db_gauges():
    metrics.DatabaseCollector.reset()
    yield
    metrics.DatabaseCollector.reset()


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="", METRICS_ALLOWED_NETWORKS=["127.0.0.0/8"])
def test_without_a_token_only_allowed_networks_may_read(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403
    assert b"halobuzz" not in refused.content


@pytest.mark.django_db
@override_settings(METRICS_TOKEN="s3cret-scrape-token", METRICS_ALLOWED_NETWORKS=["0.0.0.0/0"])
def test_with_a_token_the_bearer_must_match_wherever_the_client_is(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", REMOTE_ADDR="203.0.113.9")
    assert ok.status_code == 200


@pytest.mark.django_db
def test_metrics_and_probes_answer_on_a_pod_ip_over_plain_http(client):
    # kubelet and Prometheus call http://<pod-ip>:8000: neither an allowed host nor HTTPS
    with override_settings(ALLOWED_HOSTS=["api.halobuzz.app"], SECURE_SSL_REDIRECT=True):
        assert client.get("/healthz", HTTP_HOST="10.12.0.7:8000").status_code == 200
        assert client.get("/readyz", HTTP_HOST="10.12.0.7:8000").status_code == 200
        assert client.get("/metrics", HTTP_HOST="10.12.0.7:8000", REMOTE_ADDR="127.0.0.1").status_code == 200
        # everything else still meets the host check
        assert client.get("/api/v1/me/", HTTP_HOST="10.12.0.7:8000").status_code == 400


@pytest.mark.django_db
def test_requests_are_counted_by_view_method_and_status(client, api_client):
    before = scrape(client)
    for _ in range(3):
        assert api_client.get("/api/v1/me/").status_code == 401
    api_client.get("/api/v1/no-such-thing/")
    after = scrape(client)
    key = {"view": "me", "method": "GET", "status": "401"}
    name = "halobuzz_http_requests_total"
    assert value(after, name, **key) - value(before, name, **key) == 3
    unresolved = {"view": "unresolved", "method": "GET", "status": "404"}
    assert value(after, "halobuzz_http_requests_total", **unresolved) > value(
        before, "halobuzz_http_requests_total", **unresolved
    )
    latency = value(after, "halobuzz_http_request_duration_seconds_count", view="me", method="GET")
    assert latency - value(before, "halobuzz_http_request_duration_seconds_count", view="me", method="GET") == 3


@pytest.mark.django_db(transaction=True)
def test_database_gauges_follow_real_actions(client):
    # given no stream live, then one host going live
    assert value(scrape(client), "halobuzz_live_streams") == 0
    metrics.DatabaseCollector.reset()
    stream_go_live(host=UserFactory(), title="Evening songs")
    # then the next scrape reads it from the database
    assert value(scrape(client), "halobuzz_live_streams") == 1


@pytest.mark.django_db
def test_domain_counters_recorded_by_the_apps_show_in_the_scrape(client):
    before = scrape(client)
    metrics.gift_sent(coins=30)
    metrics.coins_moved(kind="gift", coins=-30)
    metrics.payment_outcome(gateway="khalti", outcome="completed")
    metrics.moderation_verdict(seconds=2.5, verdict="review")
    after = scrape(client)
    assert value(after, "halobuzz_gifts_sent_total") - value(before, "halobuzz_gifts_sent_total") == 1
    assert value(after, "halobuzz_gift_coins_total") - value(before, "halobuzz_gift_coins_total") == 30
    moved = "halobuzz_coins_moved_total"
    assert value(after, moved, kind="gift") - value(before, moved, kind="gift") == 30
    outcome = {"gateway": "khalti", "outcome": "completed"}
    assert (
        value(after, "halobuzz_payment_outcomes_total", **outcome)
        - value(before, "halobuzz_payment_outcomes_total", **outcome)
        == 1
    )
    verdicts = "halobuzz_moderation_verdict_seconds_count"
    assert value(after, verdicts, verdict="review") - value(before, verdicts, verdict="review") == 1


@pytest.mark.django_db
def test_a_gauge_whose_table_is_missing_is_skipped_and_the_rest_still_answer(client):
    def broken():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM table_of_an_app_not_migrated_yet")
        return 1

    gauges = [
        metrics.DbGauge("halobuzz_test_missing", "An app whose table does not exist yet.", broken),
        *metrics.db_gauges(),
    ]
    collector = metrics.DatabaseCollector(gauges)
    families = {family.name: family for family in collector.collect()}
    assert "halobuzz_test_missing" not in families
    assert "halobuzz_live_streams" in families  # still read, after the failed query in the same transaction
    errors = {s.labels["gauge"] for s in families["halobuzz_metrics_db_gauge_errors"].samples}
    assert errors == {"halobuzz_test_missing"}


@pytest.mark.django_db
@override_settings(METRICS_DB_CACHE_SECONDS=3600)
def test_database_gauges_are_cached_between_scrapes(client, django_assert_max_num_queries):
    scrape(client)
    with django_assert_max_num_queries(0):
        scrape(client)


def test_domain_helpers_bound_their_labels():
    metrics.payment_outcome(gateway="esewa", outcome="completed")
    metrics.payment_outcome(gateway='weird gateway name {with} "quotes"' * 5, outcome="failed")
    metrics.moderation_verdict(seconds=1.2, verdict="safe")
    metrics.ws_connection_opened()
    metrics.ws_connection_closed()
    labels = {tuple(sorted(s.labels.items())) for f in metrics.PAYMENT_OUTCOMES.collect() for s in f.samples}
    assert (("gateway", "esewa"), ("outcome", "completed")) in labels
    assert all(len(dict(lab)["gateway"]) <= 40 for lab in labels)


def test_given_a_fresh_tmp_when_a_process_defines_the_metrics_then_the_multiprocess_directory_is_made(tmp_path):
    # A pod's /tmp is an empty emptyDir (read-only root filesystem): daphne and Celery have no gunicorn
    # hook to make PROMETHEUS_MULTIPROC_DIR, and prometheus-client opens its files as metrics are defined.
    directory = tmp_path / "prometheus"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "DJANGO_SETTINGS_MODULE": "halobuzz.settings"}
    code = "import django; django.setup(); import apps.core.metrics"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert any(directory.glob("*.db"))
