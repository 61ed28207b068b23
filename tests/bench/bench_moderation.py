"""Moderation benchmark: the NSFW model's frames/s ceiling per batch size, and frame-to-verdict latency
under a steady stream of uploads (150 live streams, one frame each every 5 s: 30 frames/s offered)
against a real Celery worker process consuming the `moderation` queue, as deployed (prefork, one child
by default, model warmed at start). Prints its figures, each rate also as a ratio to the ceiling
measured in the same run, and the load average before and after.

Not collected by the suite (pytest only collects test_*.py); run it on purpose, under the bench lock:

    flock /tmp/halobuzz-bench.lock env DATABASE_URL=postgres://postgres@127.0.0.1:5432/halobuzz_mod \
        REDIS_URL=redis://127.0.0.1:6379/6 BENCH_PHASES=random,lockstep deploy/bin/test \
        tests/bench/bench_moderation.py -s -q -p no:randomly --streams 150

The ceiling is the classifier alone on preloaded (already preprocessed) arrays, timed at every batch
size the worker may use (1, 2, 4, 8, 16), in a fresh process (tests/bench/moderation_ceiling.py)
with the worker's settings (NSFW_BACKEND: the same model the worker runs); the best of them is the
ceiling. It is measured before the worker and the API start, and again after the phases (the API
stopped, the worker idle): the two differ by as much as the machine's other load does. Each also gives
the model's CPU ms per frame, the steadier figure on a shared machine. The worker runs with the settings
of the environment (MODERATION_BATCH_WINDOW_MS, MODERATION_BATCH_MAX, NSFW_BATCH_SIZE; with 0,
the default, the worker times every size at warm-up and its choice and timings are printed), except its
model batch: the size that reached the ceiling in this run (BENCH_WORKER_BATCH, "ceiling"; "auto" leaves
the worker's own choice at warm-up, a number sets it).

Frame-to-verdict is measured from a phone's scheduled send time to the verdict's scored_at, so time
spent waiting to be sent, in the API and on the broker all count. The API runs as deployed: gunicorn
with deploy/gunicorn.conf.py (sync workers, 2 x cores + 1 unless BENCH_API_WORKERS says), on the test
database, queueing its tasks for the worker through this Redis. The phones cost this machine little: one
asyncio loop, each frame's whole HTTP request (JPEG and multipart body, encoded once, as a phone encodes
its own frames) built before a phase, so sending one is a connection and a socket write. Each phase
also prints the CPU per frame of every part (the API's workers, the moderation worker, the object store
(moto, which stands in for a bucket that production has elsewhere), PostgreSQL's backends, and this
process, the phones), and how many of the machine's cores they took together. Arrival patterns
(BENCH_PHASES), run one after the other:
  even      streams spread evenly over the interval (the gentlest case)
  random    each stream starts at a random point of the interval, then keeps its period (what
            independent phones do)
  lockstep  all streams upload at the same instant every interval (the worst case: bursts). A burst
            cannot get its verdicts faster than streams / ceiling seconds: printed beside the p95
  service   as random, but each frame stored through the upload's service (frame_submit) in threads of
            this process instead of the HTTP API (the "upload request" figure is then the service's time)

The rates: "steady state" counts the verdicts given between the end of the first round and the last send,
per second (a worker that keeps up gives them as fast as frames are offered); "first send to last
verdict" also counts the start-up and the last frames' latency.

Knobs (environment): --streams or BENCH_STREAMS (150), BENCH_INTERVAL (5 s), BENCH_SECONDS (15 s of
load per phase), BENCH_PHASES (random,lockstep), BENCH_SEED (7), BENCH_CONCURRENCY (1 worker child, as
the k8s and compose moderation workers run), BENCH_API_WORKERS (0: gunicorn.conf.py's default),
BENCH_WORKER_BATCH (ceiling), BENCH_CEILING_SECONDS (2.5 s per batch size). About 4 minutes in all.
"""

import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from apps.accounts.services import tokens_issue
from apps.moderation import services
from apps.moderation.models import Frame
from tests.accounts.factories import UserFactory
from tests.bench.moderation_ceiling import frames_640x360
from tests.live.factories import LiveStreamFactory
from tests.moderation.conftest import (  # noqa: F401  (fixtures)
    _clean_cache,
    _media_root,
    _session_media,
    celery_worker_process,
    not_eager,
)
from tests.moderation.worker import worker_env

STREAMS = int(os.environ.get("BENCH_STREAMS", "150"))
INTERVAL = float(os.environ.get("BENCH_INTERVAL", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
PHASES = [p.strip() for p in os.environ.get("BENCH_PHASES", "random,lockstep").split(",") if p.strip()]
WORKER_BATCH = os.environ.get("BENCH_WORKER_BATCH", "ceiling")  # the worker's NSFW_BATCH_SIZE (see model_ceiling)
API_WORKERS = int(os.environ.get("BENCH_API_WORKERS", "0"))  # gunicorn sync workers; 0: deploy's default
CEILING_SECONDS = float(os.environ.get("BENCH_CEILING_SECONDS", "2.5"))
SEED = int(os.environ.get("BENCH_SEED", "7"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "1"))  # worker children (deploy/ runs 1)
SERVICE_THREADS = 16  # the service phase: frame_submit calls in flight at once in this process
TARGET_P95 = 2.0


def out(line: str) -> None:
    print(line, flush=True)  # noqa: T201  (a benchmark prints its figures)


def loadavg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, round(p / 100 * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _load(values) -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in values)


def _ceiling(when: str) -> dict:
    """The model's frames/s per batch size, measured in a fresh process (tests/bench/moderation_ceiling.py)
    with the worker's settings, and the YAHOO preprocessing's CPU ms per frame. `when` names the moment."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.moderation_ceiling", str(CEILING_SECONDS)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"per_batch"')]
    assert done.returncode == 0 and lines, done.stderr[-3000:] + done.stdout[-3000:]
    measured = json.loads(lines[-1])
    measured["per_batch"] = {int(size): fps for size, fps in measured["per_batch"].items()}
    measured["cpu_ms"] = {int(size): ms for size, ms in measured["cpu_ms"].items()}
    measured["best"] = max(measured["per_batch"], key=measured["per_batch"].__getitem__)
    measured["ceiling"] = measured["per_batch"][measured["best"]]
    measured["when"] = when
    _measured.append(measured)
    return measured


def _ceiling_lines(measured: dict) -> list[str]:
    ceiling, best = measured["ceiling"], measured["best"]
    lines = [
        f"NSFW model ({measured['backend']}: {measured['version']}), a fresh process, {os.cpu_count()} cores, "
        f"model threads "
        f"{measured['threads'] or 'one per core'}, {measured['when']}; {_load(measured['load_before'])} before"
    ]
    for size, fps in measured["per_batch"].items():
        with_pre = 1 / (1 / fps + measured["preprocess_ms"] / 1000)
        lines.append(
            f"  batch {size:2d}: {fps:6.1f} frames/s (model only, {fps / ceiling:.2f} of the ceiling), "
            f"{measured['cpu_ms'][size]:5.1f} ms CPU per frame   {with_pre:6.1f} with preprocessing"
            f"{'   <- best' if size == best else ''}"
        )
    lines.append(f"  ceiling: {ceiling:.1f} frames/s (model alone on preloaded arrays, batch {best})")
    lines.append(
        f"  YAHOO preprocessing (resize, JPEG round trip, crop): {measured['preprocess_ms']:.1f} ms CPU per frame"
    )
    lines.append(f"  {_load(measured['load_after'])} after")
    return lines


_measured: list[dict] = []


def test_frames_per_second_per_worker():
    """The model's ceiling per batch size. pytest-django runs this test (no database) after the latency
    test: it then prints the ceiling that test measured before its worker started, and measures anew
    only when run alone."""
    for line in [""] + _ceiling_lines(_measured[0] if _measured else _ceiling("measured alone")):
        out(line)
    assert all(fps > 0 for fps in _measured[0]["per_batch"].values())


@pytest.fixture(scope="session")
def model_ceiling() -> dict:
    """This run's ceiling, measured in a fresh process before the worker starts (a fixture listed before
    the worker's), so that the worker's model batch is the size that scored the most frames per second
    here and now (BENCH_WORKER_BATCH: "ceiling", the default; "auto", the worker times the sizes at its
    warm-up; or a size)."""
    measured = _ceiling("before the worker and the API started")
    if WORKER_BATCH == "ceiling":
        os.environ["NSFW_BATCH_SIZE"] = str(measured["best"])
    elif WORKER_BATCH != "auto":
        os.environ["NSFW_BATCH_SIZE"] = str(int(WORKER_BATCH))
    return measured


def _worker_batch(worker) -> str:
    """The worker's model batch size: NSFW_BATCH_SIZE, or the one it timed fastest at warm-up (0, auto)."""
    found = re.findall(r"nsfw batch size (\d+) \(frames/s by size: ([^)]*)\)", Path(worker.log_path).read_text())
    if not found:
        told = os.environ.get("NSFW_BATCH_SIZE", str(settings.NSFW_BATCH_SIZE))
        return f"{told}{' (the ceiling best size)' if WORKER_BATCH == 'ceiling' else ''}"
    size, rates = found[-1]
    return f"{size}, timed fastest at warm-up: {rates}"


def _schedule(phase: str, stream_ids: list[int], rng: random.Random) -> list[tuple[float, int]]:
    """(seconds from the start, stream id) of every upload in a phase."""
    if phase == "even":
        offsets = [i * INTERVAL / len(stream_ids) for i in range(len(stream_ids))]
    elif phase == "random":
        offsets = [rng.uniform(0, INTERVAL) for _ in stream_ids]
    elif phase == "lockstep":
        offsets = [0.0] * len(stream_ids)
    elif phase == "service":  # random arrivals, stored through the service (no HTTP and DRF in this process)
        offsets = [rng.uniform(0, INTERVAL) for _ in stream_ids]
    else:
        raise ValueError(f"unknown phase {phase!r}")
    return sorted(
        (offset + k * INTERVAL, stream_id)
        for offset, stream_id in zip(offsets, stream_ids, strict=True)
        for k in range(int(SECONDS / INTERVAL))
    )


# --- The API as deployed, and phones that cost little -----------------------------------------------

BOUNDARY = b"halobuzz-bench-frame"
FRAMES_PATH = "/api/v1/moderation/frames/"


def _frame_requests(port: int, token: str, stream_id: int, frames: list[bytes]) -> list[bytes]:
    """The whole HTTP request a phone sends for each frame, built once before a phase: sending one is then
    a socket write (the phone's JPEG encoding happens on the phone, not on this machine's two cores)."""
    field = b'--%s\r\nContent-Disposition: form-data; name="stream_id"\r\n\r\n%d\r\n' % (BOUNDARY, stream_id)
    requests = []
    for data in frames:
        body = (
            field
            + b'--%s\r\nContent-Disposition: form-data; name="image"; filename="frame.jpg"\r\n' % BOUNDARY
            + b"Content-Type: image/jpeg\r\n\r\n"
            + data
            + b"\r\n--%s--\r\n" % BOUNDARY
        )
        head = (
            f"POST {FRAMES_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


async def _post(port: int, request: bytes) -> tuple[int, bytes]:
    """One upload on its own connection (gunicorn's sync workers close every connection after the
    response, as each phone's upload is its own connection anyway). Returns (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        response = await reader.read()  # to the server's close
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def _send_all(port: int, timed: list[tuple[float, bytes]]) -> tuple[float, list[tuple[float, float, int, bytes]]]:
    """Send each request at its time (seconds from the start). Returns the start (epoch) and, per request,
    (the phone's send time (epoch), its response time (epoch), status, body)."""
    loop = asyncio.get_running_loop()
    begin, begin_wall = loop.time(), time.time()

    async def one(at: float, request: bytes) -> tuple[float, float, int, bytes]:
        await asyncio.sleep(max(0.0, begin + at - loop.time()))
        # The clock starts at the scheduled send time: if this loop is late, the lateness counts too.
        status, body = await _post(port, request)
        return begin_wall + at, time.time(), status, body

    return begin_wall, await asyncio.gather(*(one(at, request) for at, request in timed))


@contextmanager
def _api_server(workers: int, media_root: str, log_path: str):
    """gunicorn with deploy/gunicorn.conf.py (sync workers, the app preloaded) on the test database,
    sending its tasks to the benchmark's Redis as production's web pods do. Yields (port, process)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**worker_env(media_root), "PORT": str(port)}
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "--config", "deploy/gunicorn.conf.py"]
            + ["--bind", f"127.0.0.1:{port}", "--backlog", "2048", "halobuzz.wsgi:application"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None and time.monotonic() < deadline, Path(log_path).read_text()[-3000:]
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                        if s.recv(64).startswith(b"HTTP/1.1 200"):
                            break
                except OSError:
                    time.sleep(0.3)
            yield port, proc
        finally:
            proc.terminate()
            proc.wait(30)


# --- Who spends the CPU -------------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _family(pid: int) -> list[int]:
    """A process and its children (gunicorn's or celery's workers)."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *(int(c) for c in children)]


def _api_workers_booted(pid: int) -> int:
    """How many workers gunicorn runs, once all have forked: the first answers /healthz while the others
    may still be forking (counted then, 1 of 5 was printed)."""
    expected = API_WORKERS or int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
    deadline = time.monotonic() + 10
    while len(_family(pid)) - 1 < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return len(_family(pid)) - 1


def _pids_running(fragment: str) -> list[int]:
    """Processes whose command line contains `fragment` (the object store of this test run)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if fragment in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _db_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


class _CpuMeter:
    """CPU seconds per part of the system over a phase: the API, the moderation worker, the object store
    (moto, a stand-in for the bucket, which in production runs elsewhere), PostgreSQL's backends, and the
    phones (this process while it sends). Processes are looked up again at the end: a process that started
    during the phase counts whole, one that ended during it is lost (PostgreSQL's backends come and go)."""

    def __init__(self, parts: dict[str, Callable[[], list[int]]]) -> None:
        self.parts = parts
        self.start = {name: {pid: _cpu(pid) for pid in pids()} for name, pids in parts.items()}
        self.phones_start = time.process_time()
        self.phones = 0.0

    def sent(self) -> None:
        self.phones = time.process_time() - self.phones_start

    def used(self) -> dict[str, float]:
        used = {}
        for name, pids in self.parts.items():
            start = self.start[name]
            used[name] = sum(max(0.0, _cpu(pid) - start.get(pid, 0.0)) for pid in pids())
        used["phones (this process, sending)"] = self.phones
        return used


@pytest.mark.django_db(transaction=True)
def test_upload_to_verdict_latency(model_ceiling, celery_worker_process, not_eager, request, tmp_path_factory):  # noqa: F811
    best, ceiling = model_ceiling["best"], model_ceiling["ceiling"]
    n_streams = request.config.getoption("--streams") or STREAMS
    frames = frames_640x360()  # encoded once: a phone encodes its own frames
    streams = [LiveStreamFactory(host=UserFactory()) for _ in range(n_streams)]
    tokens = {s.pk: tokens_issue(user=s.host)["access"] for s in streams}
    hosts = {s.pk: s.host for s in streams}
    rng = random.Random(SEED)
    media_root = str(_session_media(tmp_path_factory))
    server_log = str(tmp_path_factory.getbasetemp() / "gunicorn.log")

    with _api_server(API_WORKERS, media_root, server_log) as (port, server):
        api_workers = _api_workers_booted(server.pid)
        requests = {s.pk: _frame_requests(port, tokens[s.pk], s.pk, frames) for s in streams}
        out("")
        out(
            f"Frame-to-verdict: {n_streams} streams, one frame each every {INTERVAL:g} s "
            f"(offered {n_streams / INTERVAL:.1f} frames/s = {n_streams / INTERVAL / ceiling:.2f} of the model's "
            f"ceiling {ceiling:.1f} frames/s at batch {best}), {SECONDS:g} s per phase; API: gunicorn "
            f"{api_workers} sync workers on {os.cpu_count()} cores (deploy/gunicorn.conf.py); one moderation worker "
            f"(-Q moderation, prefork, {CONCURRENCY} child{'ren' if CONCURRENCY > 1 else ''}, model warmed at start; "
            f"batch window {settings.MODERATION_BATCH_WINDOW_MS} ms, batch max {settings.MODERATION_BATCH_MAX}, "
            f"model batch {_worker_batch(celery_worker_process)}, model threads "
            f"{settings.NSFW_MODEL_THREADS or 'one per core'}); phones: one asyncio loop, each frame's request "
            f"built before the phase; latency from the phone's send time to the verdict; target p95 < {TARGET_P95:g} s"
        )
        summary = []
        for phase in PHASES:
            summary.append(
                _phase(phase, streams, hosts, requests, frames, rng, port, server, celery_worker_process, model_ceiling)
            )
            time.sleep(1)
    out("")
    for line in _ceiling_lines(model_ceiling):
        out(line)
    # Measured again with the API stopped and the worker idle: how much the machine itself changed.
    after = _ceiling("after the phases (the API stopped, the moderation worker idle)")
    for line in _ceiling_lines(after):
        out(line)
    out(
        "  summary: "
        + "; ".join(summary)
        + f"; model ceiling {ceiling:.1f} frames/s before the phases (batch {best}), {after['ceiling']:.1f} after "
        f"(batch {after['best']}); offered {n_streams / INTERVAL:.1f} frames/s"
    )


def _phase(phase, streams, hosts, requests, frames, rng, port, server, worker, measured) -> str:
    n_streams = len(streams)
    ceiling = measured["ceiling"]
    schedule = _schedule(phase, [s.pk for s in streams], rng)
    through_api = phase != "service"
    store = (
        f"tests.objectstore {urlsplit(settings.MEDIA_S3_ENDPOINT_URL).port}" if settings.MEDIA_S3_ENDPOINT_URL else ""
    )
    meter = _CpuMeter(
        {
            "API (gunicorn)": lambda: _family(server.pid),
            "moderation worker": lambda: _family(worker.proc.pid),
            "object store (moto)": lambda: _pids_running(store) if store else [],
            "PostgreSQL": _db_backends,
        }
    )
    load_before = loadavg()
    begin = time.perf_counter()
    if through_api:
        seen: dict[int, int] = {}
        timed = []
        for at, stream_id in schedule:
            k = seen[stream_id] = seen.get(stream_id, -1) + 1
            timed.append((at, requests[stream_id][k % len(frames)]))
        _, responses = asyncio.run(_send_all(port, timed))
        for *_, status, body in responses:
            assert status == 202, body[:500]
        sent = [(json.loads(body)["id"], sent_at, done - sent_at) for sent_at, done, _, body in responses]
    else:
        sent = _submit_in_threads(schedule, hosts, frames)
    meter.sent()
    load_seconds = time.perf_counter() - begin

    ids = [frame_id for frame_id, _, _ in sent]
    deadline = time.monotonic() + max(60.0, 3 * len(ids) / ceiling)  # a busy machine drains slowly: still report
    while Frame.objects.filter(pk__in=ids, status__in=[Frame.Status.PENDING, Frame.Status.SCORING]).exists():
        assert time.monotonic() < deadline, worker.tail()
        time.sleep(0.2)
    wall = time.perf_counter() - begin
    cpu = meter.used()
    rows = {
        pk: (uploaded, claimed, scored, status)
        for pk, uploaded, claimed, scored, status in Frame.objects.filter(pk__in=ids).values_list(
            "pk", "uploaded_at", "claimed_at", "scored_at", "status"
        )
    }
    latencies = sorted(rows[pk][2].timestamp() - sent_at for pk, sent_at, _ in sent)  # phone's send time -> verdict
    server_side = sorted((scored - uploaded).total_seconds() for uploaded, _, scored, _ in rows.values())
    api = sorted(seconds for _, _, seconds in sent)
    batches: dict[datetime, int] = {}
    for _, claimed, _, _ in rows.values():
        batches[claimed] = batches.get(claimed, 0) + 1
    verdicts: dict[str, int] = {}
    for *_, status in rows.values():
        verdicts[status] = verdicts.get(status, 0) + 1
    p50, p95, p99 = (pct(latencies, p) for p in (50, 95, 99))
    periods = int(SECONDS / INTERVAL)
    offered = len(rows) / (periods * INTERVAL)
    first_sent = min(sent_at for _, sent_at, _ in sent)
    last_sent = max(sent_at for _, sent_at, _ in sent)
    scored_times = sorted(scored.timestamp() for _, _, scored, _ in rows.values())
    achieved = len(rows) / (scored_times[-1] - first_sent)
    # Verdicts per second between the end of the first round and the last send: the steady state, where a
    # worker that keeps up gives verdicts as fast as frames are offered (the first round's start-up and the
    # last round's tail left out).
    window = (first_sent + INTERVAL, last_sent)
    steady = sum(window[0] <= t < window[1] for t in scored_times) / (window[1] - window[0])
    out(
        f"  {phase}: {len(rows)} frames, {periods} rounds of {n_streams} sent in {load_seconds:.1f} s "
        f"({offered:.1f} frames/s offered); verdicts {steady:.1f} frames/s in the steady state "
        f"({steady / offered:.2f} of offered), {achieved:.1f} frames/s first send to last verdict; "
        f"model ceiling {ceiling:.1f} frames/s (steady rate {steady / ceiling:.2f} of it)"
    )
    floor = (
        f"   (a burst of {n_streams} takes at least {n_streams / ceiling:.2f} s at the ceiling)"
        if phase == "lockstep"
        else ""
    )
    out(
        f"    phone-to-verdict p50 {p50:.3f} s   p95 {p95:.3f} s   p99 {p99:.3f} s   max {latencies[-1]:.3f} s"
        f"   {'OK' if p95 < TARGET_P95 else 'OVER TARGET'}{floor}"
    )
    out(
        f"    of which {'upload request (send to 202)' if through_api else 'frame_submit'} p50 "
        f"{statistics.median(api) * 1000:.0f} ms p95 {pct(api, 95) * 1000:.0f} ms;"
        f" stored-to-verdict p50 {statistics.median(server_side):.3f} s p95 {pct(server_side, 95):.3f} s"
    )
    out(
        f"    batches {len(batches)} (mean {len(rows) / len(batches):.1f} frames, largest {max(batches.values())});"
        f" verdicts {verdicts}"
    )
    total = sum(cpu.values())
    out(
        f"    CPU per frame over {wall:.1f} s: "
        + ", ".join(f"{name} {seconds / len(rows) * 1000:.1f} ms" for name, seconds in cpu.items())
        + f"; all {total / len(rows) * 1000:.1f} ms = {total / wall:.2f} of {os.cpu_count()} cores"
    )
    size = int(os.environ.get("NSFW_BATCH_SIZE") or measured["best"])
    model_ms = measured["cpu_ms"].get(size, measured["cpu_ms"][measured["best"]])
    worker_ms = cpu["moderation worker"] / len(rows) * 1000
    out(
        f"    of the worker's {worker_ms:.1f} ms, the model alone takes {model_ms:.1f} ms at batch {size} (its CPU per "
        f"frame in the ceiling's process); the rest, {worker_ms - model_ms:.1f} ms, is reading, decoding and "
        "preprocessing, the sampled age checks, the database and Celery"
    )
    out(f"    {load_before} before, {loadavg()} after")
    assert len(rows) == len(schedule)
    assert all(status != Frame.Status.FAILED for *_, status in rows.values())
    assert all(latency > 0 for latency in latencies)
    return f"{phase} p50/p95/p99 {p50:.2f}/{p95:.2f}/{p99:.2f} s"


def _submit_in_threads(schedule, hosts, frames) -> list[tuple[int, float, float]]:
    """The service phase: each frame stored through frame_submit in this process (no HTTP, no DRF)."""

    def submit(stream_id: int, n: int, sent_at: float) -> tuple[int, float, float]:
        started = time.perf_counter()
        image = SimpleUploadedFile("f.jpg", frames[n % len(frames)], content_type="image/jpeg")
        try:
            frame = services.frame_submit(user_id=hosts[stream_id].pk, stream_id=stream_id, upload=image)
        finally:
            connection.close()  # pool threads must not keep sessions open on the test database
        return frame.pk, sent_at, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=SERVICE_THREADS) as pool:
        begin, begin_wall = time.perf_counter(), time.time()
        futures = []
        for n, (at, stream_id) in enumerate(schedule):
            delay = begin + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(submit, stream_id, n, begin_wall + at))
        return [f.result() for f in futures]
