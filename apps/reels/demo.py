"""Demo reels: the demo hosts post a few short clips with hashtags in their captions (English and
Devanagari), so the feed, the trending list and the hashtag pages have something to show. They go
through the upload service: the moderation worker publishes them once it runs."""

import tempfile
from collections.abc import Callable
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import User
from apps.reels.models import Reel
from apps.reels.services import reel_upload

DEMO_REELS = {
    "host": ["Evening in Kathmandu #nepal #काठमाडौं #music", "Momo time! #momo #खाना #cooking"],
    "host2": ["Dashain kite flying #dashain #दशैं #nepal", "Morning chiya with friends #chiya #गफगाफ"],
}


def _clip(path: Path, *, seconds: float = 2.0, fps: int = 10, shade: int = 0) -> bytes:
    """A small moving-square MP4 (OpenCV's MPEG-4 writer, in every OpenCV wheel)."""
    import cv2
    import numpy as np

    width, height = 160, 284
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    for i in range(round(seconds * fps)):
        frame = np.full((height, width, 3), (60 + shade + i * 3) % 255, dtype=np.uint8)
        x = (i * 6) % (width - 24)
        cv2.rectangle(frame, (x, height // 2), (x + 24, height // 2 + 24), (0, 120 + shade, 255), -1)
        writer.write(frame)
    writer.release()
    return path.read_bytes()


def seed(*, out: Callable[[str], None]) -> None:
    authors = {user.username: user for user in User.objects.filter(username__in=DEMO_REELS)}
    if not authors:
        out("reels: no demo hosts; skipped")
        return
    made = 0
    with tempfile.TemporaryDirectory() as folder:
        for username, captions in DEMO_REELS.items():
            author = authors.get(username)
            if author is None or Reel.objects.filter(author=author).exists():
                continue
            for i, caption in enumerate(captions):
                data = _clip(Path(folder) / f"{username}{i}.mp4", shade=40 * i)
                reel_upload(author=author, upload=SimpleUploadedFile("demo.mp4", data, "video/mp4"), caption=caption)
                made += 1
    out(f"Demo reels: {made} uploaded with hashtags (published once the moderation worker has checked them)")
