#!/usr/bin/env python
"""Run the wallet audit (the same proof as `manage.py wallet_audit`) and publish it as metrics.

    python deploy/ops/wallet_audit_metrics.py --metrics-file /var/lib/node_exporter/halobuzz_wallet.prom
    python deploy/ops/wallet_audit_metrics.py --pushgateway http://pushgateway:9091

Metrics: halobuzz_wallet_audit_ok (1/0), halobuzz_wallet_audit_problems, halobuzz_wallet_audit_entries,
halobuzz_wallet_audit_postings, halobuzz_wallet_audit_duration_seconds,
halobuzz_wallet_audit_last_run_timestamp_seconds. Alerts: deploy/prometheus/alerts.yaml.
Exit status 0 when the ledger is sound, 1 when it is not (problems on stderr), 2 when publishing failed.
"""

import argparse
import os
import sys
import time
from pathlib import Path

# A one-shot process writes its own registry: never the app processes' multiprocess files.
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
os.environ.pop("prometheus_multiproc_dir", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics-file", help="write the Prometheus text format here (atomically)")
    parser.add_argument("--pushgateway", help="push to this Pushgateway base URL")
    parser.add_argument("--job", default="halobuzz_wallet_audit", help="Pushgateway job name")
    args = parser.parse_args(argv)

    import django

    django.setup()
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

    from apps.wallet.models import JournalEntry, Posting
    from apps.wallet.selectors import ledger_audit

    started = time.time()
    problems = ledger_audit()
    duration = time.time() - started
    entries, postings = JournalEntry.objects.count(), Posting.objects.count()

    registry = CollectorRegistry()
    values = {
        "halobuzz_wallet_audit_ok": ("1 when every entry balances and every balance equals its postings", not problems),
        "halobuzz_wallet_audit_problems": ("Problems found by the last audit", len(problems)),
        "halobuzz_wallet_audit_entries": ("Journal entries audited", entries),
        "halobuzz_wallet_audit_postings": ("Postings audited", postings),
        "halobuzz_wallet_audit_duration_seconds": ("Time the audit took", duration),
        "halobuzz_wallet_audit_last_run_timestamp_seconds": ("When the audit last ran (Unix time)", started),
    }
    for name, (documentation, value) in values.items():
        Gauge(name, documentation, registry=registry).set(float(value))

    for problem in problems[:100]:
        print(f"FAIL {problem}", file=sys.stderr)
    verdict = "failed" if problems else "passed"
    print(f"wallet audit {verdict}: {len(problems)} problem(s) in {entries} entries, {postings} postings")

    try:
        if args.metrics_file:
            write_to_textfile(args.metrics_file, registry)
        if args.pushgateway:
            push_to_gateway(args.pushgateway, job=args.job, registry=registry, timeout=10)
    except OSError as exc:
        print(f"could not publish the audit metrics: {exc}", file=sys.stderr)
        return 2
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
