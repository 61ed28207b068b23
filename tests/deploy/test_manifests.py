"""Kubernetes manifests: schema-valid offline for 1.30 (kubernetes-validate --strict) and wired as intended."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
VALIDATE = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent)) or "kubernetes-validate"

EXPECTED_API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "PersistentVolumeClaim": "v1",
    "Ingress": "networking.k8s.io/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}


def manifests() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == kind}


def containers(workload: dict) -> list[dict]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]["containers"]


def run_validate(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [VALIDATE, "--strict", "-k", "1.30", *map(str, files)], capture_output=True, text=True, timeout=120
    )


def test_every_manifest_passes_strict_validation_for_kubernetes_1_30():
    files = sorted(K8S.glob("*.yaml"))
    assert len(files) >= 8
    result = run_validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_strict_validation_catches_a_misspelt_field(tmp_path):
    # given a Deployment whose probe path key is misspelt
    broken = (K8S / "web.yaml").read_text().replace("readinessProbe:", "readinessProbes:", 1)
    target = tmp_path / "broken.yaml"
    target.write_text(broken)
    # when validated / then it fails: the check above can fail too
    assert run_validate(target).returncode != 0


def test_only_current_api_versions_are_used():
    # kubernetes-validate only warns on an unknown kind or a removed apiVersion: pin them here.
    seen = set()
    for doc in manifests():
        assert doc["kind"] in EXPECTED_API_VERSIONS, doc["kind"]
        assert doc["apiVersion"] == EXPECTED_API_VERSIONS[doc["kind"]], (doc["kind"], doc["apiVersion"])
        seen.add(doc["kind"])
    assert seen == set(EXPECTED_API_VERSIONS)


def test_web_runs_gunicorn_and_realtime_runs_daphne_with_health_probes():
    deployments = by_kind("Deployment")
    assert set(deployments) == {
        "halobuzz-web",
        "halobuzz-realtime",
        "halobuzz-worker",
        "halobuzz-moderation-worker",
        "halobuzz-beat",
    }
    for name, server in (("halobuzz-web", "gunicorn"), ("halobuzz-realtime", "daphne")):
        (container,) = containers(deployments[name])
        assert container["command"][0] == server
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]} == {
            "halobuzz-config",
            "halobuzz-secrets",
        }
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert deployments["halobuzz-web"]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_worker_and_beat_have_probes_that_fit_them():
    deployments = by_kind("Deployment")
    (worker,) = containers(deployments["halobuzz-worker"])
    assert worker["command"][:4] == ["celery", "-A", "halobuzz", "worker"]
    assert "inspect ping" in " ".join(worker["livenessProbe"]["exec"]["command"])
    beat_deployment = deployments["halobuzz-beat"]
    (beat,) = containers(beat_deployment)
    assert beat["command"][:4] == ["celery", "-A", "halobuzz", "beat"]
    assert "celerybeat-schedule" in " ".join(beat["livenessProbe"]["exec"]["command"])
    # never two beats: one replica, Recreate
    assert beat_deployment["spec"]["replicas"] == 1
    assert beat_deployment["spec"]["strategy"]["type"] == "Recreate"


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_general_and_moderation_workers_split_the_queues():
    from django.conf import settings

    deployments = by_kind("Deployment")
    (general,) = containers(deployments["halobuzz-worker"])
    (moderation,) = containers(deployments["halobuzz-moderation-worker"])
    # the general worker takes only the default queue; the moderation worker only the queue the
    # frame task is routed to, with one child (the model already uses both cores)
    assert _option(general["command"], "-Q") == settings.CELERY_TASK_DEFAULT_QUEUE == "celery"
    assert moderation["command"][:4] == ["celery", "-A", "halobuzz", "worker"]
    assert _option(moderation["command"], "-Q") == settings.CELERY_TASK_ROUTES["moderation.frame_score"]["queue"]
    assert _option(moderation["command"], "--concurrency") == "1"
    # each pings its own node name
    for container, node in ((general, "celery@"), (moderation, "moderation@")):
        assert _option(container["command"], "-n").startswith(node)
        for probe in ("startupProbe", "livenessProbe"):
            assert f"inspect ping -d {node}$POD_NAME" in " ".join(container[probe]["exec"]["command"])
    # room for one model process: two cores requested, memory bounded, no CPU quota to throttle XLA
    resources = moderation["resources"]
    assert resources["requests"]["cpu"] == "2"
    assert "memory" in resources["limits"] and "cpu" not in resources["limits"]
    assert "/tmp" in {m["mountPath"] for m in moderation["volumeMounts"]}  # models: in the image; media: in buckets
    assert moderation["securityContext"]["readOnlyRootFilesystem"] is True
    # its own labels: the general worker's PDB and HPA do not count its pods
    labels = deployments["halobuzz-moderation-worker"]["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "moderation-worker"
    assert by_kind("HorizontalPodAutoscaler")["halobuzz-moderation-worker"]["spec"]["scaleTargetRef"]["name"] == (
        "halobuzz-moderation-worker"
    )
    assert "halobuzz-moderation-worker" in by_kind("PodDisruptionBudget")


def test_media_lives_in_buckets_not_on_volumes():
    # no pod mounts a media volume and no claim exists for one: every pod reaches the same buckets
    assert "halobuzz-media" not in by_kind("PersistentVolumeClaim")
    for workload in [*by_kind("Deployment").values(), *by_kind("CronJob").values(), *by_kind("Job").values()]:
        for container in containers(workload):
            assert "/app/media" not in {m["mountPath"] for m in container.get("volumeMounts", [])}
    config = by_kind("ConfigMap")["halobuzz-config"]["data"]
    assert config["MEDIA_STORAGE"] == "s3" and config["MEDIA_PUBLIC_BUCKET"] != config["MEDIA_PRIVATE_BUCKET"]
    secret = by_kind("Secret")["halobuzz-secrets"]["stringData"]
    assert {"MEDIA_S3_ACCESS_KEY_ID", "MEDIA_S3_SECRET_ACCESS_KEY"} <= set(secret)


def test_ingress_sends_ws_to_daphne_and_the_rest_to_gunicorn():
    (ingress,) = by_kind("Ingress").values()
    services = by_kind("Service")
    routes = {
        path["path"]: path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert routes == {"/ws/": "halobuzz-realtime", "/": "halobuzz-web"}
    assert set(routes.values()) <= set(services)
    assert int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600


def test_services_hpas_and_pdbs_point_at_existing_workloads():
    deployments = by_kind("Deployment")
    labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    for service in by_kind("Service").values():
        assert any(service["spec"]["selector"].items() <= lab.items() for lab in labels.values()), service
    for hpa in by_kind("HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        assert hpa["spec"]["minReplicas"] >= 2
    pdbs = by_kind("PodDisruptionBudget")
    assert {"halobuzz-web", "halobuzz-realtime"} <= set(pdbs)
    for pdb in pdbs.values():
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= lab.items() for lab in labels.values()), pdb
    assert not any(
        pdb["spec"]["selector"]["matchLabels"].items() <= labels["halobuzz-beat"].items() for pdb in pdbs.values()
    ), "a PDB on the single beat pod would block node drains"


def test_backup_cronjob_dumps_postgres_and_migrate_job_migrates():
    cronjobs = by_kind("CronJob")
    (dump,) = containers(cronjobs["halobuzz-backup"])
    script = " ".join(dump["command"])
    assert "pg_dump --format=custom" in script
    assert cronjobs["halobuzz-backup"]["spec"]["concurrencyPolicy"] == "Forbid"
    (audit,) = containers(cronjobs["halobuzz-wallet-audit"])
    assert "deploy/ops/wallet_audit_metrics.py" in " ".join(audit["command"])
    (migrate,) = containers(by_kind("Job")["halobuzz-migrate"])
    assert "manage.py migrate" in " ".join(migrate["command"])


def test_secret_template_holds_no_real_secret():
    (secret,) = by_kind("Secret").values()
    for key, value in secret["stringData"].items():
        if key in {"SECRET_KEY", "JWT_SIGNING_KEY", "METRICS_TOKEN", "ESEWA_SECRET_KEY", "KHALTI_SECRET_KEY"}:
            assert value == "CHANGE_ME", key
    config = next(iter(by_kind("ConfigMap").values()))["data"]
    assert not {"SECRET_KEY", "DATABASE_URL", "METRICS_TOKEN"} & set(config)
    assert config["ADMIN_REQUIRE_2FA"] == "true"


@pytest.mark.parametrize("path", sorted(p.name for p in K8S.glob("*.yaml")))
def test_each_file_is_plain_yaml(path):
    assert list(yaml.safe_load_all((K8S / path).read_text()))
