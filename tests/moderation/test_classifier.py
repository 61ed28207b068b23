"""The classifier reproduces the published reference scores of the test photos, from the installed weights."""

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
