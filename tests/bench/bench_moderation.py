"""Moderation benchmark: NSFW frames per second per worker (batch 1 and 16) and upload-to-verdict
latency under a steady stream of uploads (50 live streams, one frame each every 5 s) against a
real Celery worker. Prints its figures; bounded to about a minute plus the worker's warm-up.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/halobuzz_mod REDIS_URL=redis://127.0.0.1:6379/6 \
        deploy/bin/test tests/bench/bench_moderation.py -s -q

Knobs (environment): BENCH_STREAMS (50), BENCH_INTERVAL (5 s), BENCH_SECONDS (30 s of load).
"""

import io
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import skimage.data
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from apps.moderation.classifier import nsfw_classifier
from apps.moderation.models import Frame
from tests.accounts.factories import UserFactory
from tests.live.factories import LiveStreamFactory
from tests.moderation.conftest import (  # noqa: F401  (fixtures)
    TESTDATA,
    _clean_cache,
    _media_root,
    celery_worker_process,
    not_eager,
)

STREAMS = int(os.environ.get("BENCH_STREAMS", "50"))
INTERVAL = float(os.environ.get("BENCH_INTERVAL", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))


def out(line: str) -> None:
    print(line, flush=True)  # noqa: T201  (a benchmark prints its figures)


def _frames_640x360() -> list[bytes]:
    """Phone-sized JPEG stills (what a host's app would send)."""
    sources = [
        Image.open(TESTDATA / "nsfw" / "test_image_1.jpg"),
        Image.open(TESTDATA / "faces" / "astronaut.png"),
        Image.fromarray(skimage.data.coffee()),
        Image.fromarray(skimage.data.chelsea()),
    ]
    frames = []
    for image in sources:
        buf = io.BytesIO()
        image.convert("RGB").resize((640, 360)).save(buf, format="JPEG", quality=80)
        frames.append(buf.getvalue())
    return frames


def _throughput(classifier, arrays, batch: int, seconds: float = 6.0) -> float:
    chunk = [arrays[i % len(arrays)] for i in range(batch)]
    classifier.score_arrays(chunk)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        classifier.score_arrays(chunk)
        done += batch
    return done / (time.perf_counter() - started)


def test_frames_per_second_per_worker():
    classifier = nsfw_classifier()
    classifier.warm()
    images = [Image.open(io.BytesIO(b)) for b in _frames_640x360()]
    arrays = [classifier.preprocess(image) for image in images]
    started = time.perf_counter()
    for _ in range(5):
        for image in images:
            classifier.preprocess(image)
    preprocess_ms = (time.perf_counter() - started) / (5 * len(images)) * 1000
    b1 = _throughput(classifier, arrays, 1)
    b16 = _throughput(classifier, arrays, 16)
    out("")
    out(f"NSFW model ({classifier.version}), one process, {os.cpu_count()} cores")
    out(f"  batch  1: {b1:6.1f} frames/s (model only)   {1 / (1 / b1 + preprocess_ms / 1000):6.1f} with preprocessing")
    out(
        f"  batch 16: {b16:6.1f} frames/s (model only)   {1 / (1 / b16 + preprocess_ms / 1000):6.1f} with preprocessing"
    )
    out(f"  YAHOO preprocessing (resize, JPEG round trip, crop): {preprocess_ms:.1f} ms per frame")
    assert b1 > 0 and b16 > 0


@pytest.mark.django_db(transaction=True)
def test_upload_to_verdict_latency(celery_worker_process, not_eager, auth_client):  # noqa: F811
    frames = _frames_640x360()
    streams = [LiveStreamFactory(host=UserFactory()) for _ in range(STREAMS)]
    clients = {s.pk: auth_client(s.host) for s in streams}

    def upload(stream_id: int, n: int) -> float:
        started = time.perf_counter()
        image = SimpleUploadedFile("f.jpg", frames[n % len(frames)], content_type="image/jpeg")
        try:
            response = clients[stream_id].post(
                "/api/v1/moderation/frames/", {"stream_id": stream_id, "image": image}, format="multipart"
            )
        finally:
            connection.close()  # pool threads must not keep sessions open on the test database
        assert response.status_code == 202, response.content
        return time.perf_counter() - started

    # Each stream uploads every INTERVAL seconds; streams are spread evenly over the interval.
    schedule = sorted(
        (offset * INTERVAL / STREAMS + k * INTERVAL, stream.pk)
        for offset, stream in enumerate(streams)
        for k in range(int(SECONDS / INTERVAL))
    )
    api_times, late = [], 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        begin = time.perf_counter()
        futures = []
        for n, (at, stream_id) in enumerate(schedule):
            delay = begin + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.5:
                late += 1
            futures.append(pool.submit(upload, stream_id, n))
        api_times = [f.result() for f in futures]
    load_seconds = time.perf_counter() - begin

    deadline = time.monotonic() + 60
    while Frame.objects.filter(status__in=[Frame.Status.PENDING, Frame.Status.SCORING]).exists():
        assert time.monotonic() < deadline, celery_worker_process.tail()
        time.sleep(0.2)
    rows = list(Frame.objects.values_list("uploaded_at", "scored_at", "claimed_at", "status"))
    latencies = sorted((scored - uploaded).total_seconds() for uploaded, scored, _, _ in rows)
    batches = {}
    for _, _, claimed, _ in rows:
        batches[claimed] = batches.get(claimed, 0) + 1
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    out("")
    out(
        f"Upload-to-verdict: {len(rows)} frames from {STREAMS} streams, one per stream every {INTERVAL:g} s "
        f"({STREAMS / INTERVAL:.1f} frames/s) for {load_seconds:.0f} s, one worker process"
    )
    out(f"  latency p50 {p50:.3f} s   p95 {p95:.3f} s   max {latencies[-1]:.3f} s   (target p95 < 2 s)")
    out(f"  API upload time p50 {statistics.median(api_times) * 1000:.0f} ms; uploads sent late: {late}")
    out(f"  batches: {len(batches)} (mean {len(rows) / len(batches):.1f} frames, largest {max(batches.values())})")
    out(f"  verdicts: {dict((s, sum(1 for r in rows if r[3] == s)) for s in {r[3] for r in rows})}")
    assert len(rows) == len(schedule)
    assert all(status != Frame.Status.FAILED for *_, status in rows)
    np.testing.assert_array_less(0, latencies)
