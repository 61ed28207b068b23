"""Reading uploaded videos with OpenCV: type sniffing, probing, frame counting, thumbnails.

Nothing here trusts the client: the type comes from the file's first bytes, the duration from the
container and then from decoding every frame. OpenCV (the FFmpeg backend bundled in
opencv-python-headless) is used rather than ffprobe, which is not assumed on the machine.
"""

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext_lazy

from apps.reels.exceptions import VideoTypeNotAllowed, VideoUnreadable

logger = logging.getLogger(__name__)

SNIFF_BYTES = 64
# ISO base media ("ftyp" box) brands we accept, and the type we record for each family.
QUICKTIME_BRANDS = {b"qt  "}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


@dataclass(frozen=True)
class VideoProbe:
    content_type: str
    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration_seconds(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True)
class VideoMeasure:
    decoded_frames: int
    duration_seconds: float


def sniff_content_type(head: bytes) -> str:
    """MP4/MOV (an ISO "ftyp" box first) or WebM/Matroska (EBML magic); anything else is refused."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] in QUICKTIME_BRANDS else "video/mp4"
    if head.startswith(EBML_MAGIC) and b"webm" in head[:SNIFF_BYTES]:
        return "video/webm"
    raise VideoTypeNotAllowed()


def _open(path: str) -> cv2.VideoCapture:
    try:
        capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    except cv2.error:
        raise VideoUnreadable() from None
    if not capture.isOpened():
        capture.release()
        raise VideoUnreadable()
    return capture


def video_probe(*, path: str) -> VideoProbe:
    """The container's claims (size, rate, frame count) after proving the first frame decodes."""
    with open(path, "rb") as fh:
        content_type = sniff_content_type(fh.read(SNIFF_BYTES))
    capture = _open(path)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, frame = capture.read()
        if not ok or frame is None or fps <= 0 or frame_count <= 0:
            raise VideoUnreadable()
        height, width = frame.shape[:2]
        return VideoProbe(content_type=content_type, width=width, height=height, fps=fps, frame_count=frame_count)
    finally:
        capture.release()


def video_measure(*, path: str, fps: float, max_frames: int) -> VideoMeasure:
    """Count the frames that really decode (at most max_frames + 1) and the timestamp reached.

    grab() decodes without converting to BGR, so this is the cheapest honest count OpenCV offers.
    A file whose container claims fewer frames than it holds cannot slip past the duration limit.
    """
    capture = _open(path)
    try:
        frames = 0
        last_msec = 0.0
        while frames <= max_frames and capture.grab():
            frames += 1
            last_msec = float(capture.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        by_count = frames / fps if fps > 0 else 0.0
        return VideoMeasure(decoded_frames=frames, duration_seconds=max(by_count, last_msec / 1000.0))
    finally:
        capture.release()


def thumbnail_jpeg(*, path: str, at_seconds: float, max_side: int = 540) -> bytes:
    """A JPEG of the frame at `at_seconds` (or the first frame), scaled to at most max_side pixels."""
    capture = _open(path)
    try:
        capture.set(cv2.CAP_PROP_POS_MSEC, at_seconds * 1000.0)
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
        if not ok:
            raise VideoUnreadable()
    finally:
        capture.release()
    height, width = frame.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        frame = cv2.resize(frame, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise VideoUnreadable(gettext_lazy("The thumbnail could not be encoded."))
    return encoded.tobytes()


@contextlib.contextmanager
def local_path(field_file: FieldFile) -> Iterator[str]:
    """A filesystem path for a stored file: the file itself on local storage, else a temporary copy.

    OpenCV needs a path; object storage (S3 and the like) has none, so the file is streamed to a
    temporary file that is removed afterwards.
    """
    try:
        path = field_file.path
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    suffix = os.path.splitext(field_file.name or "")[1]  # .path above raised for an empty field
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with field_file.open("rb") as source:
            for chunk in source.chunks():
                tmp.write(chunk)
        tmp.flush()
        yield tmp.name
