"""The classifier reproduces the published reference scores of the test photos, from the installed model
files; the int8 graph (the default backend) stays within a small tolerance of them."""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from apps.moderation.classifier import ModelUnavailable, NsfwClassifier, _jax_threads_flags, nsfw_classifier
from apps.moderation.model_files import NSFW_ONNX, NSFW_WEIGHTS
from apps.moderation.models import ModerationSettings
from apps.moderation.nsfw_onnx import INT8_MAX_DIFF, VALIDATION_PHOTOS, photo_arrays
from tests.moderation.images import NSFW_REFERENCE_SCORES, nsfw_int8_scores, nsfw_scores

# YAHOO preprocessing, opennsfw2 0.19.0 + open_nsfw_weights.h5; upstream compares to 3 places.
TOLERANCE = 0.0005


def test_reference_scores_one_by_one():
    # given the installed weights and the test photos
    classifier = nsfw_classifier()
    for path, expected in nsfw_scores().items():
        # when each is scored alone
        (score,) = classifier.score([Image.open(path)])
        # then it matches the reference within the upstream tolerance
        assert abs(score - expected) < TOLERANCE, (path.name, score, expected)


def test_batches_give_the_same_scores_as_singles():
    classifier = nsfw_classifier()
    references = list(nsfw_scores().items()) * 7  # 21 images: a batch of 16 and one of 5 (JAX pads it to 8)
    scores = classifier.score([Image.open(path) for path, _ in references])
    assert len(scores) == 21
    for score, (path, expected) in zip(scores, references, strict=True):
        assert abs(score - expected) < TOLERANCE, (path.name, score, expected)


@pytest.fixture(scope="module")
def keras_classifier() -> NsfwClassifier:
    """opennsfw2 on Keras + JAX with the converted weights: the network the ONNX graphs were built from."""
    return NsfwClassifier(backend="keras", model_path=settings.NSFW_WEIGHTS_PATH, batch_size=16, keras_backend="jax")


@pytest.fixture(scope="module")
def fp32_classifier() -> NsfwClassifier:
    return NsfwClassifier(backend="onnx-fp32", model_path=settings.NSFW_ONNX_PATH, batch_size=16)


def test_the_default_backend_is_the_int8_graph_and_its_version_says_so():
    classifier = nsfw_classifier()
    recorded = (Path(settings.NSFW_ONNX_INT8_PATH).parent / "open_nsfw.int8.onnx.sha256").read_text().split()[0]
    assert classifier.backend == settings.NSFW_BACKEND == "onnx-int8"
    assert classifier.version == f"opennsfw2-0.19.0+q{recorded[:12]}+ort1.32.0-int8"  # the file that passed
    assert len(classifier.version) <= 60  # reels store it in 60 characters


def test_every_backend_names_its_model_file_in_its_version(keras_classifier, fp32_classifier):
    # the installed files are the pinned conversion and the pinned graph
    assert keras_classifier.version == f"opennsfw2-0.19.0+w{NSFW_WEIGHTS.sha256[:12]}+keras3.15.1-jax"
    assert fp32_classifier.version == f"opennsfw2-0.19.0+o{NSFW_ONNX.sha256[:12]}+ort1.32.0-fp32"
    assert len({keras_classifier.version, fp32_classifier.version, nsfw_classifier().version}) == 3


def test_the_fp32_graph_and_keras_score_the_reference(keras_classifier, fp32_classifier):
    photos = [Image.open(path) for path in NSFW_REFERENCE_SCORES]
    for classifier in (keras_classifier, fp32_classifier):
        assert classifier.score(photos) == pytest.approx(list(NSFW_REFERENCE_SCORES.values()), abs=TOLERANCE)


def test_int8_scores_stay_near_fp32_and_on_the_same_side_of_the_default_thresholds(fp32_classifier):
    # given photos the int8 graph was not calibrated on, as-is and mirrored, and the test photos
    arrays = list(photo_arrays(VALIDATION_PHOTOS))
    arrays += [fp32_classifier.preprocess(Image.open(path)) for path in NSFW_REFERENCE_SCORES]
    # when both graphs score them
    fp32 = np.array(fp32_classifier.score_arrays(arrays))
    int8 = np.array(nsfw_classifier().score_arrays(arrays))
    # then the int8 scores are within the tolerance the installer checked
    assert np.abs(int8 - fp32).max() <= INT8_MAX_DIFF
    # and no photo lands on the other side of the default review or block threshold
    for field in ("nsfw_review_threshold", "nsfw_block_threshold"):
        threshold = ModerationSettings._meta.get_field(field).default
        assert np.array_equal(int8 >= threshold, fp32 >= threshold), field


def test_missing_model_files_never_download_and_name_the_install_command(tmp_path):
    with pytest.raises(ModelUnavailable, match=r"absent\.h5: run `python manage.py models_install`"):
        NsfwClassifier(backend="keras", model_path=str(tmp_path / "absent.h5"), batch_size=16)
    with pytest.raises(ModelUnavailable, match=r"absent\.onnx: run `python manage.py models_install`.*NSFW_ONNX_INT8"):
        NsfwClassifier(backend="onnx-int8", model_path=str(tmp_path / "absent.onnx"), batch_size=16)


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(ValueError, match="NSFW_BACKEND must be one of onnx-int8, onnx-fp32, keras"):
        NsfwClassifier(backend="tflite", model_path=settings.NSFW_ONNX_PATH, batch_size=16)


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
    photos = [Image.open(path) for path in NSFW_REFERENCE_SCORES]
    return [
        *photos,
        *(photo.convert("L") for photo in photos),
        *(photo.convert("RGBA") for photo in photos),
        *(photo.convert("RGB").resize((640, 360)) for photo in photos),  # a phone's frame
    ]


def test_preprocessing_is_opennsfw2s_yahoo_preprocessing_exactly(keras_classifier):
    # given the classifier (its own YAHOO preprocessing reads the JPEG back with Pillow directly)
    classifier = nsfw_classifier()
    import opennsfw2  # after the Keras classifier: it sets Keras's backend before opennsfw2 imports Keras

    for image in _photos_in_every_mode():
        # when a photo is preprocessed by both
        ours = classifier.preprocess(image)
        theirs = opennsfw2.preprocess_image(image, opennsfw2.Preprocessing.YAHOO)
        # then the model's input is the same array, value for value
        assert ours.shape == theirs.shape == (224, 224, 3) and ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs), (image.mode, image.size)


def test_the_jitted_forward_pass_scores_as_keras_predict_even_after_keras_ran(keras_classifier):
    # given a batch of the test photos
    classifier = keras_classifier
    batch = np.stack([classifier.preprocess(Image.open(path)) for path in NSFW_REFERENCE_SCORES]).astype(np.float32)
    # when Keras's own predict runs first (it donates the variables' buffers to XLA, which frees them)
    keras_scores = np.asarray(classifier._model.predict_on_batch(batch))[:, 1]
    # then the classifier's forward pass (its own copy of the weights) still runs and gives the same scores
    assert np.array_equal(np.asarray(classifier._predict(batch))[:, 1], keras_scores)
    assert classifier.score_arrays(list(batch)) == pytest.approx(list(NSFW_REFERENCE_SCORES.values()), abs=TOLERANCE)


def test_int8_hands_the_scores_from_exact_from_up_to_the_fp32_graph(fp32_classifier):
    # given the test photos: astronaut (int8 0.026-0.027, by CPU), coffee (0.010-0.015), chelsea (0.0001-0.0002)
    classifier = nsfw_classifier()
    arrays = [classifier.preprocess(Image.open(path)) for path in NSFW_REFERENCE_SCORES]
    int8 = list(nsfw_int8_scores().values())
    fp32 = fp32_classifier.score_arrays(arrays)
    # when nothing, everything, or only what int8 scores at or above 0.02 (the astronaut) is handed over
    none = classifier.score_arrays(arrays, exact_from=1.0)
    every = classifier.score_arrays(arrays, exact_from=0.0)
    above = classifier.score_arrays(arrays, exact_from=0.02)
    # then the handed-over scores are exactly the fp32 graph's, the others int8's
    assert none == pytest.approx(int8, abs=TOLERANCE)
    assert every == fp32
    assert above[0] == fp32[0] and above[1:] == pytest.approx(int8[1:], abs=TOLERANCE)


def test_the_hand_over_starts_the_margin_below_the_review_threshold(settings):
    from apps.moderation.classifier import exact_scores_from

    settings.NSFW_INT8_EXACT_MARGIN = 0.15
    assert exact_scores_from(0.40) == pytest.approx(0.25)
