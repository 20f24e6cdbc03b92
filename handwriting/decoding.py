"""Whatever a user sends -> a grey picture: the security boundary every image crosses first.

Accepts a Sketchpad/ImageEditor value (dict), an upload (file path, bytes, PIL image) or an array of any
common layout. Refuses what is not a picture in an accepted format, is damaged, too small, or too big,
from its header, before any pixel is decoded; costs a progressive JPEG at its full size; lets only a few
large decodes run at once; turns a phone photo upright (EXIF); flattens transparency onto white and
reduces to grey at the side the caller works at. Bad input raises `InvalidImageError` with a message for
the user.
"""

from __future__ import annotations

import ctypes
import io
import os
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageChops, ImageOps, UnidentifiedImageError

MIN_SIDE = 8  # smaller images hold no recognisable character
MAX_PIXELS = 50_000_000  # bigger images are refused from their header, before they are decoded
# What may be decoded at full size (a JPEG first shrinks itself by up to 8x while decoding, so a large
# photo decodes to far fewer pixels). A decoded pixel costs a few bytes at the peak of `pil_to_grey`
# (RGBA, then grey+alpha): benchmarks/probe_limits.py measures it.
MAX_DECODED_PIXELS = 16_000_000
LARGE_DECODE = 2_000_000  # decodes bigger than this wait for one of LARGE_DECODE_SLOTS: memory stays bounded
LARGE_DECODE_SLOTS = 2
MAX_SKETCH_PARTS = 8  # background + layers of an image-editor value (the page sends 2)
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # what the docs promise; TIFF, ICO, PSD... are refused
WORK_SIDE = 128  # decoded pictures are reduced to this longest side by default: one character needs no more
_HIGH_DEPTH = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")  # 16-bit and float modes: numpy knows their range


class InvalidImageError(ValueError):
    """The input cannot be turned into a character image; the message says why, for the user."""


class BlankImageError(InvalidImageError):
    """The input holds no ink: an empty canvas, a blank page, a uniform image."""


def to_grey(value, work_side: int = WORK_SIDE) -> np.ndarray:
    """Any supported input -> float32 H x W in [0, 1], 1 = white, transparency flattened onto white.

    Pictures are reduced to `work_side` (their longest side) as they are decoded: a line of writing
    asks for more pixels than one character."""
    if value is None:
        raise BlankImageError("No image was given: draw a character or upload a picture of one.")
    if isinstance(value, dict):
        return _sketch_to_grey(value, work_side)
    if isinstance(value, np.ndarray):
        return _array_to_grey(value, work_side)
    img = _decode(value, work_side)
    with decode_slot(decode_pixels(img)):
        return pil_to_grey(load_pixels(img), work_side)


def image_size(value) -> tuple[int, int] | None:
    """(width, height) of an input from its header or shape, before any pixel is decoded; None if unknown.

    Lets a caller refuse a shape it cannot use (a 20,000-pixel strip) without paying for the decode."""
    if isinstance(value, dict):
        part = value.get("composite")
        if part is None:
            part = value.get("background")
        if part is None:
            part = next((p for p in value.get("layers") or [] if p is not None), None)
        return None if part is None else image_size(part)
    if isinstance(value, np.ndarray):
        return (int(value.shape[1]), int(value.shape[0])) if value.ndim >= 2 else None
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return open_image(io.BytesIO(bytes(value))).size
    if isinstance(value, (str, os.PathLike)) and Path(value).is_file():
        return open_image(Path(value)).size
    return _decode(value, WORK_SIDE).size  # a PIL image (its size as given), or the error `to_grey` would raise


def oriented_size(size: tuple[int, int] | None, decoded: np.ndarray) -> tuple[int, int]:
    """An input's (width, height) from its header (`image_size`), turned as its decoded picture stands
    (EXIF may have turned it); the decoded picture's own when the header said nothing."""
    if size is None:
        return int(decoded.shape[1]), int(decoded.shape[0])
    if (size[0] > size[1]) != (decoded.shape[1] > decoded.shape[0]):
        return size[1], size[0]
    return size


# ---------------------------------------------------------------------------------------------------
# Headers: what a picture is and what decoding it would cost, before any pixel


def open_image(source) -> Image.Image:
    """Read and check the header only (format, size); the image keeps its stored size, nothing is decoded."""
    try:
        with warnings.catch_warnings():  # sizes are checked just below, against our own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source, formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise InvalidImageError(_too_big_message()) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise InvalidImageError(
            "This file is not an image that can be read: upload a PNG, JPEG, BMP, GIF or WebP picture."
        ) from None
    _check_size(*img.size)
    return img


def _drafted(img: Image.Image, side: int) -> Image.Image:
    """An opened image set to decode at a reduced scale near `side` (JPEG), its decoding cost checked."""
    stored_pixels = img.width * img.height
    if _is_progressive(img) and stored_pixels > MAX_DECODED_PIXELS:
        raise InvalidImageError(
            f"The image is a progressive JPEG of {img.width}x{img.height}: at most "
            f"{MAX_DECODED_PIXELS // 1_000_000} megapixels are accepted for progressive JPEGs (save it as a "
            "baseline JPEG or PNG, or smaller)."
        )
    img.draft("RGB", (side, side))  # a JPEG decodes at a reduced scale: much faster and smaller
    if _is_progressive(img):
        img.decode_pixels = stored_pixels  # libjpeg buffers a progressive file's coefficients at full size
    if img.width * img.height > MAX_DECODED_PIXELS:
        raise InvalidImageError(
            f"The image is too large to decode ({img.width}x{img.height}): at most "
            f"{MAX_DECODED_PIXELS // 1_000_000} megapixels are accepted for {img.format} pictures "
            f"({MAX_PIXELS // 1_000_000} for JPEG photos)."
        )
    return img


def _decode(value, side: int) -> Image.Image:
    """A PIL image, bytes or a file path -> a PIL image whose header is checked and pixels not yet decoded."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _drafted(open_image(io.BytesIO(bytes(value))), side)
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise InvalidImageError("The image file could not be found on the server; please upload it again.")
        return _drafted(open_image(path), side)
    raise InvalidImageError(f"Unsupported input of type {type(value).__name__}: send an image.")


def _is_progressive(img: Image.Image) -> bool:
    return img.format == "JPEG" and bool(img.info.get("progressive") or img.info.get("progression"))


def decode_pixels(img: Image.Image) -> int:
    """What decoding `img` costs, in pixels: its (drafted) size, or a progressive JPEG's full stored size."""
    return getattr(img, "decode_pixels", img.width * img.height)


def _too_big_message() -> str:
    return f"The image is too large: at most {MAX_PIXELS // 1_000_000} megapixels are accepted."


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InvalidImageError(_too_big_message() + f" This one is {width}x{height}.")
    if min(width, height) < MIN_SIDE:
        raise InvalidImageError(
            f"The image is too small ({width}x{height} pixels): it must be at least {MIN_SIDE}x{MIN_SIDE}."
        )


# ---------------------------------------------------------------------------------------------------
# Decoding: a few large decodes at a time, damaged files refused


def load_pixels(img: Image.Image) -> Image.Image:
    """Decode the pixels of an image opened by `open_image`."""
    try:
        img.load()
    except Image.DecompressionBombError:
        raise InvalidImageError(_too_big_message()) from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
        raise InvalidImageError("The image file is damaged or incomplete: upload it again or use another picture.") from None
    return img


_large_decodes = threading.BoundedSemaphore(LARGE_DECODE_SLOTS)


@contextmanager
def decode_slot(pixels: int):
    """Decodes of more than LARGE_DECODE pixels run LARGE_DECODE_SLOTS at a time, and hand their memory
    back to the system afterwards: however many arrive together, the memory they hold stays bounded."""
    if pixels <= LARGE_DECODE:
        yield
        return
    with _large_decodes:
        try:
            yield
        finally:
            _give_back_memory()


def _give_back_memory() -> None:
    """Return freed heap memory to the system (glibc keeps it otherwise: RSS would stay at the peak)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def exif_orientation(img: Image.Image) -> int:
    """How a phone stored the photo (EXIF orientation, 1 = upright); a broken EXIF block counts as upright."""
    try:
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a broken EXIF block is no reason to refuse the picture
        return 1
    return orientation if orientation in range(2, 9) else 1


def upright(img: Image.Image, orientation: int) -> Image.Image:
    """`img` (the picture, or what was made of it: reduced, grey) turned as `orientation` says.

    Turning what was made of the picture, not the picture, spares a second full-size copy."""
    if orientation == 1:
        return img
    img.getexif()[ExifTags.Base.Orientation] = orientation
    return ImageOps.exif_transpose(img)


# ---------------------------------------------------------------------------------------------------
# Flattening to grey


def pil_to_grey(img: Image.Image, work_side: int = WORK_SIDE) -> np.ndarray:
    """Decoded image -> grey in [0, 1], done in Pillow's C code (flatten onto white, luma, shrink)."""
    _check_size(*img.size)
    orientation = exif_orientation(img)
    if img.mode in _HIGH_DEPTH:
        return _array_to_grey(np.asarray(upright(img, orientation)), work_side)
    if img.width * img.height > LARGE_DECODE and max(img.size) >= 4 * work_side:
        grey = _reduced_grey(img, work_side)
    else:
        if img.mode != "RGBA":
            img = img.convert("RGBA")  # palettes (with transparency), CMYK, LA, 1-bit, ... all go through RGBA
        if np.asarray(img.getchannel("A")).min() < 255:  # what lies under transparency is not ink (numpy: faster than getextrema)
            img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
        grey = img.convert("L")
    grey = upright(grey, orientation)
    if max(grey.size) > work_side:
        scale = work_side / max(grey.size)
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32) / 255.0


def _reduced_grey(img: Image.Image, work_side: int) -> Image.Image:
    """A large image flattened onto white and box-reduced to about twice the work size, in one-byte planes:
    never a second full-size RGBA copy.

    Flattening is linear in the premultiplied grey: white-flattened grey = L*A/255 + 255 - A, so reducing
    L*A and A apart and combining them afterwards is the flattened picture reduced."""
    factor = max(1, max(img.size) // (2 * work_side))
    if img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGBA" if img.has_transparency_data else "RGB")
    grey = img.convert("L")
    if img.mode != "RGBA":
        return grey.reduce(factor)
    alpha = img.getchannel("A")
    ink_weighted = ImageChops.multiply(grey, alpha).reduce(factor)  # L*A/255
    alpha = np.asarray(alpha.reduce(factor), dtype=np.int16)
    flat = np.asarray(ink_weighted, dtype=np.int16) + 255 - alpha
    return Image.fromarray(np.clip(flat, 0, 255).astype(np.uint8), "L")


def _sketch_to_grey(value: dict, work_side: int) -> np.ndarray:
    """A Sketchpad/ImageEditor value: the composite, else the background with its layers on top.

    Every part's header is read and the whole composition's cost checked before any pixel is decoded:
    a 1 KB request naming one huge upload six times is refused at once."""
    composite = value.get("composite")
    if composite is not None:
        return to_grey(composite, work_side)
    layers = value.get("layers") or []
    if not isinstance(layers, (list, tuple)):
        raise InvalidImageError("The sketch's 'layers' must be a list of images.")
    parts = [p for p in [value.get("background"), *layers] if p is not None]
    if not parts:
        raise BlankImageError("The canvas is empty: draw a character first.")
    if len(parts) > MAX_SKETCH_PARTS:
        raise InvalidImageError(f"The sketch has {len(parts)} parts: at most {MAX_SKETCH_PARTS} (a background and "
                                "its layers) are accepted.")
    parts = [p if isinstance(p, np.ndarray) else _decode(p, work_side) for p in parts]
    sizes = [(p.shape[1], p.shape[0]) if isinstance(p, np.ndarray) else p.size for p in parts]
    canvas_size = sizes[0]
    for size in sizes:
        _check_size(*size)
    # every layer is scaled to the canvas, so each costs at least the canvas's pixels (a progressive
    # JPEG its full size, whatever it decodes to)
    cost = sum(max(w * h if isinstance(p, np.ndarray) else decode_pixels(p), canvas_size[0] * canvas_size[1])
               for p, (w, h) in zip(parts, sizes))
    if cost > MAX_DECODED_PIXELS:
        raise InvalidImageError(f"The sketch is too large: its parts add up to {cost / 1e6:.0f} megapixels, "
                                f"at most {MAX_DECODED_PIXELS // 1_000_000} are accepted.")
    with decode_slot(cost):
        canvas = Image.new("RGBA", canvas_size, (255, 255, 255, 255))
        for part in parts:
            img = _to_rgba(part)
            if img.size != canvas.size:
                img = img.resize(canvas.size)
            canvas.alpha_composite(img)
        return pil_to_grey(canvas, work_side)


def _to_rgba(part) -> Image.Image:
    """One editor part (background or a layer) as RGBA, its transparency kept for compositing."""
    if not isinstance(part, np.ndarray):
        return load_pixels(part).convert("RGBA")
    unit = _as_unit_float(_checked_shape(part))
    if unit.ndim == 2:
        unit = unit[..., None]
    channels = unit.shape[-1]
    colour = unit[..., :3] if channels >= 3 else np.repeat(unit[..., :1], 3, axis=-1)
    alpha = unit[..., -1:] if channels in (2, 4) else np.ones_like(unit[..., :1])
    rgba = np.concatenate([colour, alpha], axis=-1)
    return Image.fromarray(np.round(rgba * 255).astype(np.uint8), "RGBA")


def _as_unit_float(arr: np.ndarray) -> np.ndarray:
    """Integers by their type's range (16-bit PNGs), floats as 0..1 or 0..255, to float32 0..1."""
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        top = 255.0 if arr.max(initial=0) <= 255 else 65535.0
        return np.clip(arr.astype(np.float32) / top, 0.0, 1.0)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise InvalidImageError("The image holds invalid (NaN or infinite) pixel values.")
        arr = np.clip(arr, 0.0, 255.0).astype(np.float32)
        return arr / 255.0 if arr.max(initial=0) > 1.0 else arr
    raise InvalidImageError(f"Unsupported pixel type {arr.dtype}.")


def _checked_shape(arr: np.ndarray) -> np.ndarray:
    """H x W, or H x W x C with C in 1-4 (grey, grey+alpha, RGB, RGBA), of an acceptable size."""
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (2, 3, 4)):
        raise InvalidImageError(f"Unsupported image shape {arr.shape}: expected H x W grey, RGB or RGBA.")
    _check_size(arr.shape[1], arr.shape[0])
    return arr


def _array_to_grey(arr: np.ndarray, work_side: int) -> np.ndarray:
    """An array -> grey: uint8 ones through Pillow (reduced to `work_side`), others at their own size."""
    arr = _checked_shape(np.asarray(arr))
    if arr.dtype == np.uint8 and (arr.ndim == 2 or arr.shape[-1] in (3, 4)):  # the common case: Pillow's C code
        return pil_to_grey(Image.fromarray(np.ascontiguousarray(arr)), work_side)
    unit = _as_unit_float(arr)
    if unit.ndim == 2:
        return unit
    if unit.shape[-1] == 2:  # grey + alpha
        grey, alpha = unit[..., 0], unit[..., 1]
    else:
        grey = unit[..., 0] * 0.299 + unit[..., 1] * 0.587 + unit[..., 2] * 0.114
        alpha = unit[..., 3] if unit.shape[-1] == 4 else None
    if alpha is not None:  # whatever lies under transparent pixels is not ink: flatten onto white
        grey = grey * alpha + (1.0 - alpha)
    return grey.astype(np.float32)
