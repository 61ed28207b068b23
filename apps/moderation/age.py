"""Selfie age estimation: dlib HOG face detector, 5-point alignment and the Cydral age net (ONNX).

The files come from settings.AGE_MODEL_DIR (put there by `manage.py models_install`). The pipeline is
the one the age net was made for: dlib's HOG detector without upsampling on the RGB image, 5-point
landmarks, a 64x64 aligned chip with padding 0.2 (a plain crop of the detector's box gives unstable
ages), input (RGB - mean) / 256 in NCHW, output 81 softmax buckets (bucket i = i years, bucket 0 =
infant with weight 0.25); the estimate is the weighted sum. It triages ("clearly adult" vs "possibly
a minor"); it is not proof of age.
"""

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

from apps.accounts.faces import rgb_for_detection
from apps.moderation.model_files import ModelUnavailable, sha256_of

MEAN = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32).reshape(1, 3, 1, 1)
WEIGHTS = np.array([0.25, *range(1, 81)], dtype=np.float32)

_lock = threading.Lock()
_instance: "AgeEstimator | None" = None


@dataclass(frozen=True)
class FaceAge:
    box: tuple[int, int, int, int]  # left, top, right, bottom in the submitted image
    age: float


class AgeEstimator:
    def __init__(self, *, model_dir: str) -> None:
        import dlib
        import onnxruntime

        directory = Path(model_dir)
        onnx_path = directory / "age-v1.onnx"
        landmarks_path = directory / "shape_predictor_5_face_landmarks.dat"
        for path in (onnx_path, landmarks_path):
            if not path.is_file():
                raise ModelUnavailable("Age model file", path, "AGE_MODEL_DIR")
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(landmarks_path))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        digest = sha256_of(onnx_path)[:12]
        self.version = f"dlib-hog-5pt/age-v1.onnx@{digest}/ort-{onnxruntime.__version__}"
        self._run_lock = threading.Lock()

    def estimate(self, image: Image.Image) -> list[FaceAge]:
        """Every face found, with its estimated age in years."""
        rgb, scale = rgb_for_detection(image)
        with self._run_lock:  # dlib's detector object is not documented as thread-safe
            rects = list(self._detector(rgb, 0))
            chips = [
                np.asarray(
                    self._dlib.extract_image_chip(rgb, self._dlib.get_face_chip_details(self._shape(rgb, r), 64, 0.2))
                )
                for r in rects
            ]
        if not chips:
            return []
        batch = (np.stack(chips).astype(np.float32).transpose(0, 3, 1, 2) - MEAN) / 256.0
        probabilities = self._session.run(["probabilities"], {"images": batch})[0]
        ages = probabilities @ WEIGHTS
        return [
            FaceAge(
                box=tuple(round(v / scale) for v in (r.left(), r.top(), r.right(), r.bottom())),
                age=float(age),
            )
            for r, age in zip(rects, ages, strict=True)
        ]


def age_estimator() -> AgeEstimator:
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = AgeEstimator(model_dir=settings.AGE_MODEL_DIR)
    return _instance
