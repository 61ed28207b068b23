"""Moderation benchmark: the NSFW model's frames/s ceiling per batch size, and frame-to-verdict latency
under a steady stream of uploads (150 live streams, one frame each every 5 s: 30 frames/s offered)
against a real Celery worker process consuming the `moderation` queue, as deployed (prefork, one child
by default, model warmed at start). Prints its figures, each rate also as a ratio to the ceiling
measured in the same run, and the load average before and after.

Not collected by the suite (pytest only collects test_*.py); run it on purpose, under the bench lock:

    flock /tmp/halobuzz-bench.lock env DATABASE_URL=postgres://postgres@127.0.0.1:5432/halobuzz_mod \
        REDIS_URL=redis://127.0.0.1:6379/6 deploy/bin/test tests/bench/bench_moderation.py -s -q --streams 150

The ceiling is the classifier alone on preloaded (already preprocessed) arrays, timed at every batch
size the model is compiled for (1, 2, 4, 8, 16); the best of them is the ceiling. The worker runs with
the settings of the environment (MODERATION_BATCH_WINDOW_MS, MODERATION_BATCH_MAX, NSFW_BATCH_SIZE; with 0,
the default, the worker times every size at warm-up and its choice and timings are printed).

Frame-to-verdict is measured from the moment a phone starts its POST (its scheduled send time) to the
verdict's scored_at, so time spent waiting for a client thread, in the API and on the broker all
count. Arrival patterns (BENCH_PHASES), run one after the other:
  even      streams spread evenly over the interval (the gentlest case)
  random    each stream starts at a random point of the interval, then keeps its period (what
            independent phones do)
  lockstep  all streams upload at the same instant every interval (the worst case: bursts)
  service   as random, but each frame stored through the upload's service (frame_submit) instead of
            the HTTP API: the API, which production runs on other machines, then takes less of this
            machine's two cores from the worker (the "API request" figure is then the service's time)

Knobs (environment): --streams or BENCH_STREAMS (150), BENCH_INTERVAL (5 s), BENCH_SECONDS (15 s of
load per phase), BENCH_PHASES (random,lockstep), BENCH_SEED (7), BENCH_CONCURRENCY (1 worker child, as
the k8s and compose moderation workers run), BENCH_CEILING_SECONDS (2.5 s per batch size). About 2
minutes in all.
"""

import io
import os
import random
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from apps.moderation import services
from apps.moderation.classifier import BUCKETS, nsfw_classifier
from apps.moderation.models import Frame
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory
from tests.moderation.conftest import (  # noqa: F401  (fixtures)
    _clean_cache,
    _media_root,
    celery_worker_process,
    not_eager,
)
from tests.moderation.images import NSFW_SCORES

STREAMS = int(os.environ.get("BENCH_STREAMS", "150"))
INTERVAL = float(os.environ.get("BENCH_INTERVAL", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
PHASES = [p.strip() for p in os.environ.get("BENCH_PHASES", "random,lockstep").split(",") if p.strip()]
CEILING_SECONDS = float(os.environ.get("BENCH_CEILING_SECONDS", "2.5"))
SEED = int(os.environ.get("BENCH_SEED", "7"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "1"))  # worker children (deploy/ runs 1)
CLIENT_THREADS = 16  # uploads in flight at once from this process (the API runs in these threads)
TARGET_P95 = 2.0


def out(line: str) -> None:
    print(line, flush=True)  # noqa: T201  (a benchmark prints its figures)


def loadavg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, round(p / 100 * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _frames_640x360() -> list[bytes]:
    """Phone-sized JPEG stills (what a host's app would send)."""
    frames = []
    for image in (Image.open(path) for path in NSFW_SCORES):
        buf = io.BytesIO()
        image.convert("RGB").resize((640, 360)).save(buf, format="JPEG", quality=80)
        frames.append(buf.getvalue())
    return frames


def _throughput(classifier, arrays, batch: int, seconds: float) -> float:
    chunk = [arrays[i % len(arrays)] for i in range(batch)]
    classifier.score_arrays(chunk)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        classifier.score_arrays(chunk)
        done += batch
    return done / (time.perf_counter() - started)


_measured: dict[str, object] = {}


def _ceiling() -> tuple[dict[int, float], float]:
    """Model-only frames/s per batch size, and YAHOO preprocessing ms per frame (measured once a run)."""
    if "per_batch" not in _measured:
        classifier = nsfw_classifier()
        classifier.batch_size = BUCKETS[-1]  # time every compiled size, whatever NSFW_BATCH_SIZE says
        classifier.warm()
        images = [Image.open(io.BytesIO(b)) for b in _frames_640x360()]
        arrays = [classifier.preprocess(image) for image in images]
        started = time.perf_counter()
        for _ in range(5):
            for image in images:
                classifier.preprocess(image)
        _measured["preprocess_ms"] = (time.perf_counter() - started) / (5 * len(images)) * 1000
        _measured["per_batch"] = {size: _throughput(classifier, arrays, size, CEILING_SECONDS) for size in BUCKETS}
        _measured["version"] = classifier.version
    return _measured["per_batch"], _measured["preprocess_ms"]  # type: ignore[return-value]


def test_frames_per_second_per_worker():
    load_before = loadavg()
    per_batch, preprocess_ms = _ceiling()
    best = max(per_batch, key=per_batch.__getitem__)
    ceiling = per_batch[best]
    out("")
    out(f"NSFW model ({_measured['version']}), one process, {os.cpu_count()} cores, {load_before} before")
    for size, fps in per_batch.items():
        with_pre = 1 / (1 / fps + preprocess_ms / 1000)
        out(
            f"  batch {size:2d}: {fps:6.1f} frames/s (model only, {fps / ceiling:.2f} of the ceiling)   "
            f"{with_pre:6.1f} with preprocessing{'   <- best' if size == best else ''}"
        )
    out(f"  ceiling: {ceiling:.1f} frames/s (model alone on preloaded arrays, batch {best})")
    out(f"  YAHOO preprocessing (resize, JPEG round trip, crop): {preprocess_ms:.1f} ms per frame")
    out(f"  {loadavg()} after")
    assert all(fps > 0 for fps in per_batch.values())


def _worker_batch(worker) -> str:
    """The worker's model batch size: NSFW_BATCH_SIZE, or the one it timed fastest at warm-up (0, auto)."""
    found = re.findall(r"nsfw batch size (\d+) \(frames/s by size: ([^)]*)\)", Path(worker.log_path).read_text())
    if not found:
        return str(settings.NSFW_BATCH_SIZE)
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


@pytest.mark.django_db(transaction=True)
def test_upload_to_verdict_latency(celery_worker_process, not_eager, auth_client, request):  # noqa: F811
    per_batch, _ = _ceiling()
    ceiling = max(per_batch.values())
    n_streams = request.config.getoption("--streams") or STREAMS
    frames = _frames_640x360()
    streams = [LiveStreamFactory(host=UserFactory()) for _ in range(n_streams)]
    clients = {s.pk: auth_client(s.host) for s in streams}
    rng = random.Random(SEED)

    hosts = {s.pk: s.host for s in streams}

    def upload(stream_id: int, n: int, sent_at: float, through_api: bool) -> tuple[int, float, float]:
        """Send one frame; returns (frame id, the phone's send time (epoch), API seconds)."""
        started = time.perf_counter()
        image = SimpleUploadedFile("f.jpg", frames[n % len(frames)], content_type="image/jpeg")
        try:
            if not through_api:
                frame = services.frame_submit(user=hosts[stream_id], stream_id=stream_id, upload=image)
                return frame.pk, sent_at, time.perf_counter() - started
            response = clients[stream_id].post(
                "/api/v1/moderation/frames/", {"stream_id": stream_id, "image": image}, format="multipart"
            )
        finally:
            connection.close()  # pool threads must not keep sessions open on the test database
        assert response.status_code == 202, response.content
        return response.json()["id"], sent_at, time.perf_counter() - started

    out("")
    out(
        f"Frame-to-verdict: {n_streams} streams, one frame each every {INTERVAL:g} s "
        f"(offered {n_streams / INTERVAL:.1f} frames/s = {n_streams / INTERVAL / ceiling:.2f} of the model's "
        f"ceiling {ceiling:.1f} frames/s), {SECONDS:g} s per phase, one worker "
        f"(-Q moderation, prefork, {CONCURRENCY} child{'ren' if CONCURRENCY > 1 else ''}, model warmed at start; "
        f"batch window {settings.MODERATION_BATCH_WINDOW_MS} ms, batch max {settings.MODERATION_BATCH_MAX}, "
        f"model batch {_worker_batch(celery_worker_process)}); "
        f"latency from the phone's send time to the verdict; target p95 < {TARGET_P95:g} s"
    )
    summary = []
    for phase in PHASES:
        schedule = _schedule(phase, [s.pk for s in streams], rng)
        load_before = loadavg()
        with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
            begin, begin_wall = time.perf_counter(), time.time()
            futures = []
            for n, (at, stream_id) in enumerate(schedule):
                delay = begin + at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(upload, stream_id, n, begin_wall + at, phase != "service"))
            sent = [f.result() for f in futures]
        load_seconds = time.perf_counter() - begin

        ids = [frame_id for frame_id, _, _ in sent]
        deadline = time.monotonic() + 60
        while Frame.objects.filter(pk__in=ids, status__in=[Frame.Status.PENDING, Frame.Status.SCORING]).exists():
            assert time.monotonic() < deadline, celery_worker_process.tail()
            time.sleep(0.2)
        rows = {
            pk: (uploaded, claimed, scored, status)
            for pk, uploaded, claimed, scored, status in Frame.objects.filter(pk__in=ids).values_list(
                "pk", "uploaded_at", "claimed_at", "scored_at", "status"
            )
        }
        latencies = sorted(rows[pk][2].timestamp() - sent_at for pk, sent_at, _ in sent)  # phone's send time -> verdict
        server = sorted((scored - uploaded).total_seconds() for uploaded, _, scored, _ in rows.values())
        api = sorted(seconds for _, _, seconds in sent)
        batches: dict[datetime, int] = {}
        for _, claimed, _, _ in rows.values():
            batches[claimed] = batches.get(claimed, 0) + 1
        verdicts: dict[str, int] = {}
        for *_, status in rows.values():
            verdicts[status] = verdicts.get(status, 0) + 1
        p50, p95, p99 = (pct(latencies, p) for p in (50, 95, 99))
        periods = int(SECONDS / INTERVAL)
        first_sent = min(sent_at for _, sent_at, _ in sent)
        last_verdict = max(scored.timestamp() for _, _, scored, _ in rows.values())
        achieved = len(rows) / (last_verdict - first_sent)
        out(
            f"  {phase}: {len(rows)} frames, {periods} rounds of {n_streams} in {load_seconds:.0f} s "
            f"({len(rows) / (periods * INTERVAL):.1f} frames/s offered); achieved {achieved:.1f} frames/s "
            f"(first send to last verdict) = {achieved / ceiling:.2f} of the ceiling {ceiling:.1f}"
        )
        out(
            f"    latency p50 {p50:.3f} s   p95 {p95:.3f} s   p99 {p99:.3f} s   max {latencies[-1]:.3f} s"
            f"   {'OK' if p95 < TARGET_P95 else 'OVER TARGET'}"
        )
        out(
            f"    of which API request p50 {statistics.median(api) * 1000:.0f} ms p95 {pct(api, 95) * 1000:.0f} ms;"
            f" stored-to-verdict p50 {statistics.median(server):.3f} s p95 {pct(server, 95):.3f} s"
        )
        out(
            f"    batches {len(batches)} (mean {len(rows) / len(batches):.1f} frames, largest {max(batches.values())});"
            f" verdicts {verdicts}"
        )
        out(f"    {load_before} before, {loadavg()} after")
        summary.append((phase, p50, p95, p99))
        assert len(rows) == len(schedule)
        assert all(status != Frame.Status.FAILED for *_, status in rows.values())
        assert all(latency > 0 for latency in latencies)
        time.sleep(1)
    out("  summary: " + "; ".join(f"{ph} p50/p95/p99 {a:.2f}/{b:.2f}/{c:.2f} s" for ph, a, b, c in summary))
