"""Test photos the project may ship: scikit-image's bundled sample images (public domain or CC0).

Their open-NSFW scores (YAHOO preprocessing, the installed model of the configured backend) are known,
so a test that needs a flagged frame lowers the review or block threshold below a known score
instead of using explicit imagery. Uploads send the files' exact bytes: re-encoding moves the scores.
"""

import functools
from pathlib import Path

import skimage.data
from django.conf import settings

SKIMAGE_DATA = Path(skimage.data.__file__).parent

ASTRONAUT = SKIMAGE_DATA / "astronaut.png"  # Eileen Collins, NASA (public domain); one face, estimated age 33.1
COFFEE = SKIMAGE_DATA / "coffee.png"  # CC0, Rachel Michetti; no face
CHELSEA = SKIMAGE_DATA / "chelsea.png"  # CC0, Stefan van der Walt (a cat)

# The network's scores (fp32: NSFW_BACKEND onnx-fp32 or keras), YAHOO preprocessing, opennsfw2 0.19.0.
NSFW_REFERENCE_SCORES = {ASTRONAUT: 0.03170, COFFEE: 0.01295, CHELSEA: 0.00015}


@functools.cache
def nsfw_int8_scores() -> dict[Path, float]:
    """The installed int8 graph's (onnx-int8, the default) scores of the same files: a little off the
    reference (within INT8_MAX_DIFF, checked in test_classifier), and not the same on every CPU (ONNX
    Runtime's integer kernels differ with and without VNNI), so they are read off the graph, on first use
    (importing this module loads no model). Thresholds near them are the fp32 graph's business anyway
    (see verdict_score)."""
    from PIL import Image

    from apps.moderation.classifier import NsfwClassifier

    graph = NsfwClassifier(backend="onnx-int8", model_path=settings.NSFW_ONNX_INT8_PATH, batch_size=1)
    arrays = [graph.preprocess(Image.open(path)) for path in NSFW_REFERENCE_SCORES]
    return dict(zip(NSFW_REFERENCE_SCORES, graph.score_arrays(arrays), strict=True))


def nsfw_scores() -> dict[Path, float]:
    """What the configured backend scores them (the worker and the API use the same settings)."""
    return nsfw_int8_scores() if settings.NSFW_BACKEND == "onnx-int8" else NSFW_REFERENCE_SCORES


def verdict_score(path: Path, review_threshold: float) -> float:
    """The score a frame's verdict records under `review_threshold`: the configured backend's, except that
    the int8 screen hands a score within NSFW_INT8_EXACT_MARGIN of the review threshold (or above it) to
    the fp32 graph. The tests' thresholds (0.01-0.5) sit near these photos' scores, so theirs are fp32's."""
    score = nsfw_scores()[path]
    near = score >= review_threshold - settings.NSFW_INT8_EXACT_MARGIN
    return NSFW_REFERENCE_SCORES[path] if settings.NSFW_BACKEND == "onnx-int8" and near else score


ASTRONAUT_FACE = [179, 83, 266, 170]  # left, top, right, bottom
