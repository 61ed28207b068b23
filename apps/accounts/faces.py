"""Face descriptors: dlib's HOG face detector, 5-point landmarks and its face recognition ResNet.

The files come from settings.FACE_MODEL_DIR (put there by `manage.py models_install`). A face becomes
a 128-d descriptor; two faces are the same person when the Euclidean distance of their descriptors
is below settings.KYC_FACE_MATCH_THRESHOLD (dlib's documented 0.6, about 99.4% on LFW). Used to
compare the face on a host's KYC ID photo with their age-check selfie, whose descriptor is kept
instead of the selfie (apps.accounts.services.user_face_descriptor_set). It is evidence for Finance,
never a decision.
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

from apps.core.model_files import ModelUnavailable, sha256_of

# HOG detection time grows with the pixel count: images are shrunk to this longest side first.
MAX_SIDE = 1280
DESCRIPTOR_SIZE = 128

_lock = threading.Lock()
_instance: "FaceDescriber | None" = None


@dataclass(frozen=True)
class FaceFound:
    box: tuple[int, int, int, int]  # left, top, right, bottom in the submitted image
    descriptor: tuple[float, ...]  # DESCRIPTOR_SIZE floats


@dataclass(frozen=True)
class StoredFace:
    """A user's kept descriptor (of the face on their age-check selfie)."""

    descriptor: tuple[float, ...]
    model_version: str
    created_at: datetime


def rgb_for_detection(image: Image.Image) -> tuple[np.ndarray, float]:
    """The image as dlib takes it (contiguous RGB uint8), shrunk to MAX_SIDE, and the scale applied
    (multiply a box in the image by it to find it in the array). The age check uses it too, so a face
    box one model found is in the same pixels for the other."""
    image = image.convert("RGB")
    scale = 1.0
    if max(image.size) > MAX_SIDE:
        scale = MAX_SIDE / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8)), scale


def face_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance of two descriptors: below the threshold, the same person."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


class FaceDescriber:
    def __init__(self, *, model_dir: str) -> None:
        import dlib

        directory = Path(model_dir)
        net_path = directory / "dlib_face_recognition_resnet_model_v1.dat"
        landmarks_path = directory / "shape_predictor_5_face_landmarks.dat"
        for path in (net_path, landmarks_path):
            if not path.is_file():
                raise ModelUnavailable("Face descriptor model file", path, "FACE_MODEL_DIR")
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(landmarks_path))
        self._net = dlib.face_recognition_model_v1(str(net_path))
        self.version = f"dlib-hog-5pt/resnet-v1@{sha256_of(net_path)[:12]}/dlib-{dlib.__version__}"
        self._run_lock = threading.Lock()  # dlib's objects are not documented as thread-safe

    def describe(self, image: Image.Image, *, box: tuple[int, int, int, int] | None = None) -> list[FaceFound]:
        """Every face found, with its descriptor; with `box` (a face another model already found, in
        the image's pixels), only that face, without detecting again.

        A face too small for the detector (a passport photo within a photo of the whole ID) is looked
        for again in the image upsampled once.
        """
        rgb, scale = rgb_for_detection(image)
        with self._run_lock:
            if box is not None:
                rects = [self._dlib.rectangle(*(round(v * scale) for v in box))]
            else:
                rects = list(self._detector(rgb, 0)) or list(self._detector(rgb, 1))
            descriptors = [self._net.compute_face_descriptor(rgb, self._shape(rgb, r)) for r in rects]
        return [
            FaceFound(
                box=box or tuple(round(v / scale) for v in (r.left(), r.top(), r.right(), r.bottom())),
                descriptor=tuple(float(v) for v in d),
            )
            for r, d in zip(rects, descriptors, strict=True)
        ]


def face_describer() -> FaceDescriber:
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = FaceDescriber(model_dir=settings.FACE_MODEL_DIR)
    return _instance
