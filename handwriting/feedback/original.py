"""The upload kept beside a record: re-encoded once, upright, without metadata, named by its content.

A reviewer needs the picture a person sent, not its EXIF, ICC profile or a padded chunk: what is kept is
its pixels, re-encoded at a reviewer's size, so a padded upload stays small and one picture sent many times
is stored once. The upload's format (JPEG stays JPEG) is read from the image as it is opened, once.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from handwriting import decoding
from handwriting.feedback.record import InvalidFeedbackError
from handwriting.decoding import InvalidImageError


@dataclass(frozen=True)
class Original:
    """The upload re-encoded for keeping beside the store (too big for a sheet cell): named by `digest`,
    so the same picture sent many times is kept once."""

    data: bytes
    extension: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


ORIGINAL_JPEG_QUALITY = 90  # photos stay JPEG: a reviewer sees no difference, the file stays a few hundred KB


def _file_size(image) -> int | None:
    if isinstance(image, (bytes, bytearray, memoryview)):
        return len(image)
    if isinstance(image, (str, os.PathLike)) and Path(image).is_file():
        return Path(image).stat().st_size
    return None


def read_original(image, max_bytes: int | None = None, side: int = 1024) -> Original | None:
    """What the user sent (a sketch: its composite, else its background) as it is kept: upright (EXIF
    orientation applied), at most `side` pixels on its longest side, every metadata chunk dropped; JPEG
    stays JPEG, anything else becomes PNG. None when it is no picture (decoding says why).
    InvalidFeedbackError when the file is over `max_bytes` (checked before it is read)."""
    if isinstance(image, dict):
        image = image.get("composite") or image.get("background")
    size = _file_size(image)
    if max_bytes is not None and size is not None and size > max_bytes:
        raise InvalidFeedbackError(
            f"The image file is too large ({size / 2**20:.1f} MB): at most {max_bytes / 2**20:.0f} MB are accepted."
        )
    try:
        img = _opened(image)
        if img is None:
            return None
        return _reencoded(img, side)
    except (InvalidImageError, OSError, ValueError, TypeError, SyntaxError, EOFError, MemoryError):
        return None  # not a picture, or one PIL cannot write: the 28x28 is still stored


def _opened(image) -> Image.Image | None:
    """The upload opened with decoding's checks (formats, size from the header), not yet decoded."""
    if isinstance(image, np.ndarray):
        return Image.fromarray(image)
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decoding.open_image(io.BytesIO(bytes(image)))
    if isinstance(image, (str, os.PathLike)) and Path(image).is_file():
        return decoding.open_image(Path(image))
    return None


def _reencoded(img: Image.Image, side: int) -> Original:
    fmt = "JPEG" if img.format == "JPEG" else "PNG"
    if fmt == "JPEG":
        img.draft("RGB", (side, side))  # decodes at a reduced scale when the photo is much larger
    if img.width * img.height > decoding.MAX_DECODED_PIXELS:
        raise InvalidImageError("too large to decode")  # decoding refuses it, with its own message
    with decoding.decode_slot(img.width * img.height):
        orientation = decoding.exif_orientation(img)
        img = decoding.load_pixels(img)
        if "transparency" in img.info or img.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            img = img.convert("RGBA" if "transparency" in img.info or "A" in img.getbands() else "RGB")
        img = decoding.upright(img, orientation)
        if max(img.size) > side:
            img = ImageOps.contain(img, (side, side), Image.Resampling.LANCZOS)
        if fmt == "JPEG" and img.mode not in ("L", "RGB"):
            img = img.convert("RGB")
        buf = io.BytesIO()  # saved without its info: no EXIF, ICC profile, text or other chunk is carried over
        img.save(buf, format=fmt, **({"quality": ORIGINAL_JPEG_QUALITY} if fmt == "JPEG" else {}))
    return Original(buf.getvalue(), "jpg" if fmt == "JPEG" else "png")
