"""Small test videos written with OpenCV's VideoWriter (MPEG-4 Part 2 in MP4: in every OpenCV wheel)."""

import random
from pathlib import Path

import cv2
import numpy as np


def make_video(path: Path, *, seconds: float, fps: int = 10, size: tuple[int, int] = (96, 64)) -> Path:
    """A moving-square clip of `seconds` at `fps`; a few KB per second at the default size."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV could not open an MP4 writer"
    frames = max(1, round(seconds * fps))
    for i in range(frames):
        frame = np.full((height, width, 3), (40 + i * 3) % 255, dtype=np.uint8)
        x = (i * 4) % max(1, width - 16)
        cv2.rectangle(frame, (x, height // 3), (x + 16, height // 3 + 16), (0, 200, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def make_video_from_images(path: Path, images: list[Path], *, seconds_each: float = 1.0, fps: int = 5) -> Path:
    """A slideshow of real images (for the moderation pipeline's NSFW check)."""
    size = (224, 224)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for image_path in images:
        frame = cv2.resize(cv2.imread(str(image_path)), size)
        for _ in range(round(seconds_each * fps)):
            writer.write(frame)
    writer.release()
    return path


def corrupt_truncated(source: Path, target: Path) -> Path:
    """The first half of a real MP4: the index (moov box, written last) is missing."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def corrupt_middle(source: Path, target: Path) -> Path:
    """A real MP4 whose second half of frame data (the mdat box) is noise: it opens, then stops decoding."""
    data = bytearray(source.read_bytes())
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        if data[offset + 4 : offset + 8] == b"mdat":
            start, end = offset + 8 + (size - 8) // 2, offset + size
            data[start:end] = random.Random(7).randbytes(end - start)
            target.write_bytes(bytes(data))
            return target
        offset += size
    raise AssertionError("no mdat box in the test clip")
