"""Compose puts media in MinIO buckets: the app services are wired to it, and none keeps media on a volume."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "realtime", "worker", "moderation-worker", "beat")


def test_compose_runs_minio_creates_the_buckets_and_wires_every_app_service_to_them():
    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    minio = services["minio"]
    assert minio["image"].startswith("minio/minio:") and minio["healthcheck"]
    assert minio["environment"]["MINIO_ROOT_PASSWORD"].startswith("${MINIO_ROOT_PASSWORD:?")
    assert "manage.py media_buckets" in " ".join(services["migrate"]["command"])
    for name in APP_SERVICES:
        service = services[name]
        env = service["environment"]
        assert env["MEDIA_STORAGE"] == "s3" and env["MEDIA_S3_ENDPOINT_URL"] == "http://minio:9000", name
        assert env["MEDIA_PUBLIC_BUCKET"] != env["MEDIA_PRIVATE_BUCKET"], name
        assert env["MEDIA_S3_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"], name
        assert service["depends_on"]["minio"]["condition"] == "service_healthy", name
        assert not any(str(volume).endswith(":/app/media") for volume in service.get("volumes", [])), name
