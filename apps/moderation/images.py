"""Checking uploaded images before anything stores or decodes them in full."""

import io
import warnings

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image, ImageOps

from apps.moderation.exceptions import ImageTooLarge, ImageTooSmall, ImageUnreadable

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}


def image_read_checked(upload: UploadedFile, *, max_bytes: int) -> tuple[bytes, Image.Image]:
    """Return the file's bytes and the decoded RGB image, refusing anything that is not a sane picture.

    The byte size is checked first, the pixel count from the header before decoding (a small
    file can declare a huge canvas), and the full decode last (truncated files fail there).
    """
    if upload.size is not None and upload.size > max_bytes:
        raise ImageTooLarge(details={"max_bytes": max_bytes, "bytes": upload.size})
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(details={"max_bytes": max_bytes})
    max_pixels = settings.MODERATION_IMAGE_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ALLOWED_FORMATS:
                raise ImageUnreadable(details={"format": image.format})
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge(details={"max_pixels": max_pixels, "width": width, "height": height})
            image.load()
            image = ImageOps.exif_transpose(image)  # type: ignore[assignment]  # an Image, not an ImageFile
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(details={"max_pixels": max_pixels}) from None
    except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError):
        raise ImageUnreadable() from None
    min_side = settings.MODERATION_IMAGE_MIN_SIDE
    if min(image.size) < min_side:
        raise ImageTooSmall(details={"min_side": min_side, "width": image.width, "height": image.height})
    return data, image.convert("RGB")


def image_format(data: bytes) -> str:
    """JPEG, PNG or WEBP, from the magic bytes of an image image_read_checked accepted."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    return "WEBP"
