"""The NSFW classifier: Open-NSFW (Yahoo's ResNet-50-1by2), loaded once per process.

One small interface: `nsfw_classifier().score(images) -> list[float]` (probability of NSFW per
image, 0..1) and `.version` (recorded with every verdict; it names the model file and the runtime).
NSFW_BACKEND picks how the network runs:

- "onnx-int8" (the default): ONNX Runtime on the static-int8 graph (NSFW_ONNX_INT8_PATH), about a
  fifth of the JAX path's CPU per frame on the 2-core machines; its scores differ a little from the
  fp32 network's (within nsfw_onnx.INT8_MAX_DIFF on the install check's photos; README "The NSFW
  model and its backends" has the wider figures).
- "onnx-fp32": ONNX Runtime on the fp32 graph (NSFW_ONNX_PATH), the reference scores to float rounding.
- "keras": opennsfw2 on Keras 3 (KERAS_BACKEND, normally JAX) with the weights at NSFW_WEIGHTS_PATH.

Every file is put there by `manage.py models_install` and never downloaded. Workers call `warm()`
when they start, so the first frame does not pay for loading (and, with JAX, compiling).

With the JAX backend, `predict_on_batch` runs a jit-compiled function that is compiled once per
input shape; batches are therefore padded to a few fixed sizes (BUCKETS), all compiled during
`warm()`. Powers of two: on CPU a batch of 16 scores barely more frames per second than one of 4,
so padding a batch of 5 to 16 (as buckets of 1, 4, 16 did) tripled its cost for nothing. ONNX
Runtime takes any batch size as it comes.

Which size scores the most frames per second depends on the machine (its caches, its cores): with
NSFW_BATCH_SIZE 0 the worker times every size when it warms (`calibrate`) and chunks its batches at
the fastest one.
"""

import io
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

from apps.moderation.model_files import ModelUnavailable, sha256_of

logger = logging.getLogger(__name__)

BUCKETS = (1, 2, 4, 8, 16)
# NSFW_BACKEND: the same network and weights in ONNX Runtime (int8 or fp32), or opennsfw2 on Keras.
MODEL_PATH_SETTINGS = {"onnx-int8": "NSFW_ONNX_INT8_PATH", "onnx-fp32": "NSFW_ONNX_PATH", "keras": "NSFW_WEIGHTS_PATH"}
BACKENDS = tuple(MODEL_PATH_SETTINGS)
YAHOO_BGR_MEAN = np.array([104, 117, 123], dtype=np.float32)
_lock = threading.Lock()
_instance: "NsfwClassifier | None" = None


def _jax_threads_flags(threads: int, flags: str) -> str:
    """XLA_FLAGS with the CPU runtime's intra-op threads set (0: XLA's default, one per core). On the
    2-core machines the worker shares its cores with the API and PostgreSQL, and a parallel op's
    threads then wait for each other (and spin) whenever one of them is descheduled: one thread scores
    more frames per CPU-second there."""
    if threads <= 0 or "intra_op_parallelism_threads" in flags:
        return flags
    eigen = "false" if threads == 1 else "true"
    return f"{flags} --xla_cpu_multi_thread_eigen={eigen} intra_op_parallelism_threads={threads}".strip()


def _jax_configure() -> None:
    # Read by XLA when the CPU backend starts (the first computation), so before anything runs on it.
    os.environ["XLA_FLAGS"] = _jax_threads_flags(settings.NSFW_MODEL_THREADS, os.environ.get("XLA_FLAGS", ""))
    import jax

    jax.config.update("jax_platforms", "cpu")
    if settings.NSFW_JAX_CACHE_DIR:
        # Building the model runs hundreds of small jitted ops; cached, a worker starts ~8x faster.
        jax.config.update("jax_compilation_cache_dir", settings.NSFW_JAX_CACHE_DIR)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def yahoo_preprocess(image: Image.Image) -> np.ndarray:
    """YAHOO preprocessing (resize 256, JPEG round trip, centre crop 224, BGR, mean subtraction):
    opennsfw2's `preprocess_image`, step for step, except that the JPEG is read back with Pillow
    directly instead of through scikit-image and imageio (whose plugin lookups, which end in the
    same Pillow decode, cost more CPU than the decode itself). The arrays are identical
    (tests/moderation/test_classifier.py)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.resize((256, 256), resample=Image.Resampling.BILINEAR).save(buffer, format="JPEG")
    buffer.seek(0)
    with Image.open(buffer) as jpeg:
        array = np.asarray(jpeg, dtype=np.float32)
    crop = (256 - 224) // 2
    return array[crop : crop + 224, crop : crop + 224, ::-1] - YAHOO_BGR_MEAN


class NsfwClassifier:
    def __init__(
        self,
        *,
        backend: str,
        model_path: str,
        batch_size: int,
        keras_backend: str = "jax",
        exact_model_path: str | None = None,
    ) -> None:
        """`backend`: one of BACKENDS; `model_path`: its file (the .onnx graph, or the Keras weights).
        `exact_model_path` (int8 only): the fp32 graph that re-scores frames near the thresholds."""
        if backend not in BACKENDS:
            raise ValueError(f"NSFW_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
        path = Path(model_path)
        if not path.is_file():
            # opennsfw2 would try to download the weights here: refuse instead.
            raise ModelUnavailable(f"NSFW model ({backend})", path, MODEL_PATH_SETTINGS[backend])
        started = time.perf_counter()
        # 0: every size is run at warm-up, and `calibrate` picks the fastest.
        self.auto_batch = batch_size <= 0
        self.batch_size = BUCKETS[-1] if self.auto_batch else max(1, min(batch_size, BUCKETS[-1]))
        self.backend = backend
        self._predict_lock = threading.Lock()
        if backend == "keras":
            self._predict = self._keras_load(path, keras_backend)
        else:
            self._predict = self._onnx_load(path)
        self._exact = (
            NsfwClassifier(backend="onnx-fp32", model_path=exact_model_path, batch_size=batch_size)
            if backend == "onnx-int8" and exact_model_path
            else None
        )
        logger.info("nsfw model loaded", extra={"seconds": round(time.perf_counter() - started, 2)})

    def _onnx_load(self, path: Path):
        """ONNX Runtime on the graph that models_install built (nsfw_onnx.py). The batch dimension is
        free, so batches are not padded; the int8 graph's QDQ pairs run as integer convolutions."""
        import onnxruntime

        from apps.moderation.nsfw_onnx import INPUT_NAME, OUTPUT_NAME

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = settings.NSFW_MODEL_THREADS  # 0: one per core
        options.inter_op_num_threads = 1
        # The worker shares its cores with the API and PostgreSQL: a pool thread that waits for work
        # sleeps instead of spinning on a core another process needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        precision = self.backend.removeprefix("onnx-")
        mark = "q" if precision == "int8" else "o"
        self.version = f"opennsfw2-0.19.0+{mark}{sha256_of(path)[:12]}+ort{onnxruntime.__version__}-{precision}"
        self._pad_to_buckets = False
        return lambda batch: session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    def _keras_load(self, path: Path, keras_backend: str):
        # Keras reads its backend once, at first import.
        os.environ["KERAS_BACKEND"] = keras_backend
        if keras_backend == "jax":
            _jax_configure()
        import keras
        import opennsfw2

        if keras.backend.backend() != keras_backend:
            logger.warning("keras already imported with backend %s, not %s", keras.backend.backend(), keras_backend)
        self._model = opennsfw2.make_open_nsfw_model(weights_path=str(path))
        self.keras_backend = keras.backend.backend()
        self.version = f"opennsfw2-0.19.0+w{sha256_of(path)[:12]}+keras{keras.__version__}-{self.keras_backend}"
        # JAX compiles one program per input shape: batches are padded to a few sizes.
        self._pad_to_buckets = True
        if self.keras_backend == "jax":
            return self._jax_predict()
        if self.keras_backend == "torch":  # pragma: no cover - alternative backend

            def predict(batch):
                import torch

                with torch.no_grad():
                    return self._model.predict_on_batch(batch)

            return predict
        return self._model.predict_on_batch  # pragma: no cover - alternative backend

    def _jax_predict(self):
        """The model's forward pass as one jitted function of its weights and the batch. Keras's
        `predict_on_batch` gathers every variable into a state before each call and assigns each back
        after it (hundreds of Python calls, as much CPU as the model's own work at small batches on
        these machines); the weights of an inference model never change, so they are gathered once (about 23 MB)."""
        import jax
        import jax.numpy as jnp

        model = self._model
        # Copies: Keras's own predict and fit donate the variables' buffers to XLA, which frees them.
        trainable = [jnp.array(v.value, copy=True) for v in model.trainable_variables]
        non_trainable = [jnp.array(v.value, copy=True) for v in model.non_trainable_variables]
        forward = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0])
        return lambda batch: forward(trainable, non_trainable, batch)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        return yahoo_preprocess(image)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = batch.shape[0]
        if self._pad_to_buckets:
            size = next(b for b in BUCKETS if b >= n)
            if size > n:
                batch = np.concatenate([batch, np.zeros((size - n, *batch.shape[1:]), dtype=batch.dtype)])
        with self._predict_lock:
            out = self._predict(batch)
        return np.asarray(out)[:n, 1]

    def score_arrays(self, arrays: Sequence[np.ndarray], *, exact_from: float | None = None) -> list[float]:
        """NSFW probability of each preprocessed array. With an fp32 graph beside the int8 one, every
        score at or above `exact_from` is replaced by the fp32 graph's: int8 is only a screen, and a
        verdict near a threshold is taken on the reference scores (see `exact_scores_from`)."""
        scores: list[float] = []
        for start in range(0, len(arrays), self.batch_size):
            chunk = np.stack(arrays[start : start + self.batch_size]).astype(np.float32)
            scores.extend(float(s) for s in self._run(chunk))
        if self._exact is not None and exact_from is not None:
            near = [i for i, score in enumerate(scores) if score >= exact_from]
            if near:
                exact = self._exact.score_arrays([arrays[i] for i in near])
                for i, score in zip(near, exact, strict=True):
                    scores[i] = score
        return scores

    def score(self, images: Sequence[Image.Image]) -> list[float]:
        """NSFW probability of each image, scored in batches of at most `batch_size`."""
        return self.score_arrays([self.preprocess(image) for image in images])

    def warm(self) -> None:
        """Run every size `_run` can be called with once (with JAX: compile each; a batch of n runs as
        the first bucket >= n)."""
        blank = np.zeros((224, 224, 3), dtype=np.float32)
        for size in BUCKETS[: next(i for i, b in enumerate(BUCKETS) if b >= self.batch_size) + 1]:
            self._run(np.stack([blank] * size))
        if self._exact is not None:
            self._exact.warm()

    def calibrate(self, rounds: int = 5) -> dict[int, float]:
        """Time every compiled size and chunk batches at the one with the most frames per second.
        The sizes take turns, round after round, and each keeps its best round: a busy neighbour
        then slows every size alike instead of the one it happened to hit. Returns frames/s per size."""
        batches = {size: np.zeros((size, 224, 224, 3), dtype=np.float32) for size in BUCKETS if size <= self.batch_size}
        best = dict.fromkeys(batches, float("inf"))
        for _ in range(rounds):
            for size, batch in batches.items():
                started = time.perf_counter()
                self._run(batch)
                best[size] = min(best[size], time.perf_counter() - started)
        rates = {size: size / seconds for size, seconds in best.items()}
        self.batch_size = max(rates, key=rates.__getitem__)
        return rates


def nsfw_classifier() -> NsfwClassifier:
    """The process's classifier, loaded on first use."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                backend = settings.NSFW_BACKEND
                _instance = NsfwClassifier(
                    backend=backend,
                    model_path=getattr(settings, MODEL_PATH_SETTINGS.get(backend, "NSFW_WEIGHTS_PATH")),
                    batch_size=settings.NSFW_BATCH_SIZE,
                    keras_backend=settings.KERAS_BACKEND,
                    exact_model_path=settings.NSFW_ONNX_PATH if backend == "onnx-int8" else None,
                )
    return _instance


def exact_scores_from(review_threshold: float) -> float:
    """Where the int8 screen hands over to the fp32 graph: NSFW_INT8_EXACT_MARGIN below the lowest
    threshold (review). The int8 scores have differed from fp32 by 0.114 at most on the photos checked,
    so a frame whose fp32 score reaches a threshold is re-scored, and its verdict is the reference's."""
    return review_threshold - settings.NSFW_INT8_EXACT_MARGIN


def warm() -> None:
    """Load the model and run every batch size once (called when a Celery worker process starts)."""
    started = time.perf_counter()
    try:
        classifier = nsfw_classifier()
        classifier.warm()
    except ModelUnavailable:
        logger.exception("nsfw model could not be loaded; frames will fail until it is")
        return
    if classifier.auto_batch:
        rates = classifier.calibrate()
        logger.info(
            "nsfw batch size %d (frames/s by size: %s)",
            classifier.batch_size,
            ", ".join(f"{size}: {rate:.1f}" for size, rate in rates.items()),
        )
    logger.info("nsfw model warm", extra={"seconds": round(time.perf_counter() - started, 2)})
