"""Prometheus alert rules: parsed, covering what must wake ops, and only naming metrics we export."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
REQUIRED = {
    "HighErrorRate",
    "HighLatencyP95",
    "ModerationBacklog",
    "PaymentsStuckPending",
    "WalletAuditFailed",
    "WalletAuditNotRunning",
}


def rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def exported_metric_names() -> set[str]:
    from prometheus_client import REGISTRY

    import apps.core.metrics as metrics

    names = set()
    for family in REGISTRY.collect():
        names.update(sample.name for sample in family.samples)
        names.add(family.name)
        if family.type == "counter":  # a labelled counter has no sample until first used
            names.add(f"{family.name}_total")
    names.update(g.name for g in metrics.db_gauges())
    script = (ROOT / "deploy" / "ops" / "wallet_audit_metrics.py").read_text()
    names.update(re.findall(r'"(halobuzz_wallet_audit_[a-z_]+)"', script))
    return names


def test_rules_parse_and_cover_what_wakes_ops():
    parsed = rules()
    names = {rule["alert"] for rule in parsed}
    assert names >= REQUIRED
    for rule in parsed:
        assert rule["expr"].strip() and rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"]


def test_rules_only_reference_metrics_the_app_exports():
    # histograms expose _bucket/_sum/_count: only the family needs to exist
    known = exported_metric_names()
    for rule in rules():
        for name in set(re.findall(r"\bhalobuzz_[a-z0-9_]+", rule["expr"])):
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in known or family in known, (rule["alert"], name)


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (apt-get install prometheus)")
def test_promtool_checks_and_unit_tests_the_rules():
    check = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    unit = subprocess.run(
        ["promtool", "test", "rules", "alerts.test.yaml"],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unit.returncode == 0, unit.stdout + unit.stderr
