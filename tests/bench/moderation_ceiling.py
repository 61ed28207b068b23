"""The NSFW model's frames/s ceiling, measured in a process of its own (bench_moderation.py runs it).

Run as `python -m tests.bench.moderation_ceiling SECONDS`: loads the classifier as a worker does (same
settings: NSFW_BACKEND, so the model the worker runs, NSFW_MODEL_THREADS, the JAX cache), times every
batch size the worker may use on preloaded, already preprocessed arrays for SECONDS each, times the
YAHOO preprocessing, and prints one line of JSON (the model's version names the backend).

A process of its own, so that the figure is the model's alone: measured inside the benchmark's pytest
process, it shared that process with the test database's connections, the fixtures' objects and the
phones' event loop, and (pytest-django runs the tests that use no database last) it was printed after
the phases under a load average taken then.
"""

import io
import json
import os
import sys
import time


def frames_640x360() -> list[bytes]:
    """Phone-sized JPEG stills (what a host's app would send)."""
    from PIL import Image

    from tests.moderation.images import NSFW_REFERENCE_SCORES

    frames = []
    for image in (Image.open(path) for path in NSFW_REFERENCE_SCORES):
        buf = io.BytesIO()
        image.convert("RGB").resize((640, 360)).save(buf, format="JPEG", quality=80)
        frames.append(buf.getvalue())
    return frames


def _throughput(classifier, arrays, batch: int, seconds: float) -> tuple[float, float]:
    """(frames/s, CPU ms per frame of this process) scoring `batch` arrays at a time for `seconds`."""
    chunk = [arrays[i % len(arrays)] for i in range(batch)]
    classifier.score_arrays(chunk)
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        classifier.score_arrays(chunk)
        done += batch
    return done / (time.perf_counter() - started), (time.process_time() - cpu) / done * 1000


def measure(seconds: float) -> dict:
    from django.conf import settings
    from PIL import Image

    from apps.moderation.classifier import BUCKETS, nsfw_classifier

    load_before = os.getloadavg()
    classifier = nsfw_classifier()
    classifier.batch_size = BUCKETS[-1]  # time every size, whatever NSFW_BATCH_SIZE says
    classifier.warm()
    images = [Image.open(io.BytesIO(b)) for b in frames_640x360()]
    arrays = [classifier.preprocess(image) for image in images]
    started = time.process_time()
    for _ in range(10):
        for image in images:
            classifier.preprocess(image)
    preprocess_ms = (time.process_time() - started) / (10 * len(images)) * 1000
    per_batch, cpu_ms = {}, {}
    for size in BUCKETS:
        per_batch[size], cpu_ms[size] = _throughput(classifier, arrays, size, seconds)
    return {
        "per_batch": per_batch,
        "cpu_ms": cpu_ms,
        "preprocess_ms": preprocess_ms,
        "version": classifier.version,
        "backend": classifier.backend,
        "threads": settings.NSFW_MODEL_THREADS,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "halobuzz.settings")
    import django

    django.setup()
    print(json.dumps(measure(float(sys.argv[1]))))  # noqa: T201  (the benchmark reads this line)
