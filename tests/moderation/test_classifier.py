"""The classifier reproduces the published reference scores of the test photos, from the installed weights."""

import numpy as np
import pytest
from PIL import Image

from apps.moderation.classifier import ModelUnavailable, NsfwClassifier, _jax_threads_flags, nsfw_classifier
from apps.moderation.model_files import NSFW_WEIGHTS
from tests.moderation.images import NSFW_SCORES

# YAHOO preprocessing, opennsfw2 0.19.0 + open_nsfw_weights.h5; upstream compares to 3 places.
TOLERANCE = 0.0005


def test_reference_scores_one_by_one():
    # given the installed weights and the test photos
    classifier = nsfw_classifier()
    for path, expected in NSFW_SCORES.items():
        # when each is scored alone
        (score,) = classifier.score([Image.open(path)])
        # then it matches the reference within the upstream tolerance
        assert abs(score - expected) < TOLERANCE, (path.name, score, expected)


def test_batches_give_the_same_scores_as_singles():
    classifier = nsfw_classifier()
    references = list(NSFW_SCORES.items()) * 7  # 21 images: a batch of 16 and one of 5 (padded to 8)
    scores = classifier.score([Image.open(path) for path, _ in references])
    assert len(scores) == 21
    for score, (path, expected) in zip(scores, references, strict=True):
        assert abs(score - expected) < TOLERANCE, (path.name, score, expected)


def test_model_version_names_weights_and_backend():
    version = nsfw_classifier().version
    assert version.startswith("opennsfw2-0.19.0")
    assert NSFW_WEIGHTS.sha256[:12] in version  # the installed file is the pinned conversion
    assert "jax" in version
    assert len(version) <= 60  # reels store it in 60 characters


def test_missing_weights_never_download_and_name_the_install_command(tmp_path):
    with pytest.raises(ModelUnavailable, match=r"absent\.h5: run `python manage.py models_install`"):
        NsfwClassifier(weights_path=str(tmp_path / "absent.h5"), backend="jax", batch_size=16)


def test_calibration_times_every_compiled_size_and_keeps_the_fastest():
    classifier = nsfw_classifier()
    before = classifier.batch_size
    classifier.batch_size = 4  # sizes 1, 2 and 4: enough to choose among, and quick
    try:
        classifier.warm()
        rates = classifier.calibrate(rounds=1)
        assert set(rates) == {1, 2, 4} and all(rate > 0 for rate in rates.values())
        assert classifier.batch_size == max(rates, key=rates.__getitem__)
    finally:
        classifier.batch_size = before


@pytest.mark.parametrize(
    ("threads", "flags", "expected"),
    [
        (0, "", ""),  # XLA's default: a thread per core
        (0, "--xla_dump_to=/tmp/x", "--xla_dump_to=/tmp/x"),
        (1, "", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"),
        (2, "", "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2"),
        (
            1,
            "--xla_dump_to=/tmp/x",
            "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        ),
        (1, "intra_op_parallelism_threads=4", "intra_op_parallelism_threads=4"),  # the operator's own flag wins
    ],
)
def test_model_threads_setting_becomes_xla_flags(threads, flags, expected):
    assert _jax_threads_flags(threads, flags) == expected


def _photos_in_every_mode() -> list[Image.Image]:
    photos = [Image.open(path) for path in NSFW_SCORES]
    return [
        *photos,
        *(photo.convert("L") for photo in photos),
        *(photo.convert("RGBA") for photo in photos),
        *(photo.convert("RGB").resize((640, 360)) for photo in photos),  # a phone's frame
    ]


def test_preprocessing_is_opennsfw2s_yahoo_preprocessing_exactly():
    # given the classifier (its own YAHOO preprocessing reads the JPEG back with Pillow directly)
    classifier = nsfw_classifier()
    import opennsfw2  # after the classifier: it sets Keras's backend before opennsfw2 imports Keras

    for image in _photos_in_every_mode():
        # when a photo is preprocessed by both
        ours = classifier.preprocess(image)
        theirs = opennsfw2.preprocess_image(image, opennsfw2.Preprocessing.YAHOO)
        # then the model's input is the same array, value for value
        assert ours.shape == theirs.shape == (224, 224, 3) and ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs), (image.mode, image.size)


def test_the_jitted_forward_pass_scores_as_keras_predict_even_after_keras_ran():
    # given a batch of the test photos
    classifier = nsfw_classifier()
    batch = np.stack([classifier.preprocess(Image.open(path)) for path in NSFW_SCORES]).astype(np.float32)
    # when Keras's own predict runs first (it donates the variables' buffers to XLA, which frees them)
    keras_scores = np.asarray(classifier._model.predict_on_batch(batch))[:, 1]
    # then the classifier's forward pass (its own copy of the weights) still runs and gives the same scores
    assert np.array_equal(np.asarray(classifier._predict(batch))[:, 1], keras_scores)
    assert classifier.score_arrays(list(batch)) == pytest.approx(list(NSFW_SCORES.values()), abs=TOLERANCE)
