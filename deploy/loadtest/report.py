#!/usr/bin/env python
"""Print a load-test summary (from locustfile.py's JSON), or check the gifts against the database.

report.py SUMMARY.json [METRICS.txt]   requests/s, p50/p95/p99, error rate (HTTP), WebSocket connects;
                                       exit 1 when the run misses its targets
report.py --gifts SUMMARY.json         every gift answered 201 is in the database exactly once (else exit 1)

Targets (environment): LOADTEST_TARGET_P95_MS (HTTP p95, 300), LOADTEST_TARGET_ERROR_RATE (HTTP errors
and failed room connects, each a fraction of its requests: 0.001).
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")
TARGET_P95_MS = float(os.environ.get("LOADTEST_TARGET_P95_MS", "300"))
TARGET_ERROR_RATE = float(os.environ.get("LOADTEST_TARGET_ERROR_RATE", "0.001"))


def line(name: str, f: dict) -> str:
    return (
        f"{name:<34} {f['requests']:>8} req {f['rps']:>8.1f}/s  p50 {f['p50_ms']:>5.0f} ms  p95 {f['p95_ms']:>5.0f} ms"
        f"  p99 {f['p99_ms']:>5.0f} ms  errors {f['failures']} ({100 * f['error_rate']:.2f}%)"
    )


def print_summary(summary_path: str, metrics_path: str | None) -> int:
    summary = json.loads(Path(summary_path).read_text())
    print(line("HTTP (all API requests)", summary["http"]))
    for name, figures in sorted(summary["endpoints"].items()):
        if not name.startswith("ws/"):
            print(line(f"  {name}", figures))
    c = summary["ws_connects"]
    print(
        f"WebSocket room connects (whole run)  {c['count']:>5}  p50 {c['p50_ms']:>5.0f} ms  p95 {c['p95_ms']:>5.0f} ms"
        f"  p99 {c['p99_ms']:>5.0f} ms  failed {c['failures']}"
    )
    for error in c["errors"]:
        print(f"  connect error: {error}")
    ws = summary["ws"]
    print(
        f"WebSocket room events received: {ws['frames']} frames, {ws['gift_events']} gift.sent or gift.combo;"
        f" sockets closed early: {ws['closed_early']}"
    )
    for error in [e for e in summary["errors"] if e["method"] != "WS"]:
        print(f"  error x{error['count']}: {error['method']} {error['name']}: {error['error']}")
    http = summary["http"]
    connect_errors = c["failures"] / c["count"] if c["count"] else 0.0
    passed = http["p95_ms"] < TARGET_P95_MS and http["error_rate"] < TARGET_ERROR_RATE
    passed = passed and connect_errors < TARGET_ERROR_RATE
    print(
        f"target HTTP p95 < {TARGET_P95_MS:g} ms, HTTP errors and failed room connects < {100 * TARGET_ERROR_RATE:g}%:"
        f" {'PASS' if passed else 'FAIL'}"
    )
    if metrics_path and Path(metrics_path).exists():
        from prometheus_client.parser import text_string_to_metric_families

        wanted = {"halobuzz_gifts_sent_total", "halobuzz_live_streams", "halobuzz_websocket_connections"}
        for family in text_string_to_metric_families(Path(metrics_path).read_text()):
            for sample in family.samples:
                if sample.name in wanted:
                    print(f"/metrics {sample.name} = {sample.value:g}")
    return 0 if passed else 1


def check_gifts(summary_path: str) -> int:
    import django

    django.setup()
    from apps.gifts.models import GiftSend

    summary = json.loads(Path(summary_path).read_text())
    gifts = summary["gifts"]
    accepted, refused = gifts["accepted"], gifts["refused"]
    unanswered = gifts["attempted"] - accepted - refused
    stored = GiftSend.objects.count()
    # every 201 is stored; a refusal stores nothing; a request cut off at the stop may or may not be
    ok = accepted <= stored <= accepted + unanswered
    print(
        f"gifts answered 201: {accepted}, refused: {refused}, cut off at the stop: {unanswered};"
        f" GiftSend rows: {stored}: {'OK' if ok else 'MISMATCH'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "--gifts":
        sys.exit(check_gifts(sys.argv[2]))
    sys.exit(print_summary(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
