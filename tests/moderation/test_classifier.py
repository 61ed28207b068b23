"""The classifier reproduces the published reference scores (shared/testdata/*/README.txt)."""

from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from apps.moderation.classifier import ModelUnavailable, NsfwClassifier, nsfw_classifier
from tests.moderation.conftest import TESTDATA

# YAHOO preprocessing, opennsfw2 0.19.0 + open_nsfw_weights.h5; upstream compares to 3 places.
REFERENCE = [
    (TESTDATA / "nsfw" / "test_image_1.jpg", 0.01554),
    (TESTDATA / "nsfw" / "test_image_3.jpg", 0.07651),
    (TESTDATA / "faces" / "astronaut.png", 0.03170),
    ("coffee", 0.01295),
    ("chelsea", 0.00015),
]
TOLERANCE = 0.0005


def _load(source) -> Image.Image:
    if isinstance(source, Path):
        return Image.open(source)
    return Image.fromarray(getattr(skimage.data, source)())


def test_reference_scores_one_by_one():
    # given the shared weights and the reference images
    classifier = nsfw_classifier()
    for source, expected in REFERENCE:
        # when each is scored alone
        (score,) = classifier.score([_load(source)])
        # then it matches the reference within the upstream tolerance
        assert abs(score - expected) < TOLERANCE, (source, score, expected)


def test_batches_give_the_same_scores_as_singles():
    classifier = nsfw_classifier()
    images = [_load(source) for source, _ in REFERENCE] * 4  # 20 images: a batch of 16 and one of 4
    scores = classifier.score(images)
    assert len(scores) == 20
    for score, (_, expected) in zip(scores, REFERENCE * 4, strict=True):
        assert abs(score - expected) < TOLERANCE


def test_model_version_names_weights_and_backend():
    version = nsfw_classifier().version
    assert version.startswith("opennsfw2-0.19.0")
    assert "24e411da43d9" in version  # first hex digits of the weights' sha256
    assert "jax" in version
    assert len(version) <= 60  # reels store it in 60 characters


def test_missing_weights_never_download(tmp_path):
    with pytest.raises(ModelUnavailable):
        NsfwClassifier(weights_path=str(tmp_path / "absent.h5"), backend="jax", batch_size=16)
