import pytest
from django.core.files.storage import default_storage


@pytest.fixture(autouse=True)
def media(isolated_media):
    """Every reels test stores its media apart (a bucket prefix or a folder of its own)."""
    return default_storage


@pytest.fixture
def clip(tmp_path):
    """Factory of small real MP4 files."""
    from tests.reels.videos import make_video

    def make(seconds: float = 3.0, **kwargs):
        return make_video(tmp_path / f"clip-{seconds}-{len(list(tmp_path.iterdir()))}.mp4", seconds=seconds, **kwargs)

    return make
