import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every reels test stores media under its own temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def clip(tmp_path):
    """Factory of small real MP4 files."""
    from tests.reels.videos import make_video

    def make(seconds: float = 3.0, **kwargs):
        return make_video(tmp_path / f"clip-{seconds}-{len(list(tmp_path.iterdir()))}.mp4", seconds=seconds, **kwargs)

    return make
