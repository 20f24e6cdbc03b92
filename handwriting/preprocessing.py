"""Whatever a user gives -> the 28x28 image the model was trained on, made the way MNIST itself was made.

One path for every input: a Sketchpad value (dict), an upload (file path, bytes, PIL image), an array of
any common layout, a photo of pen on grey paper. The app, the API, the training scripts and the
evaluation all call `to_model_input`, so the model always sees what it was trained on:

1. decode, refusing what is not an image, is damaged, too small or too big (before decoding it);
2. flatten transparency onto white and reduce to grey (16-bit, CMYK, palettes, EXIF rotation included);
3. find the ink whatever its polarity, against a background fitted as a plane (uneven photo lighting);
4. keep the ink's connected strokes, drop paper texture and specks;
5. thin strokes that would be too fat at MNIST's scale, thicken ones that would vanish;
6. crop to the ink, scale its longest side to 20 px keeping the aspect ratio, and place it in 28x28 with
   its centre of mass at the centre, white ink on black, in [0, 1].

Everything that can go wrong with the input raises `InvalidImageError` with a message meant for the user.
"""

from __future__ import annotations

import contextvars
import ctypes
import io
import os
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, UnidentifiedImageError
from scipy import ndimage

SIZE = 28  # the model's input side
BOX = 20  # MNIST scales the ink's longest side to this many pixels
MIN_SIDE = 8  # smaller images hold no recognisable character
MAX_PIXELS = 50_000_000  # bigger images are refused from their header, before they are decoded
# What may be decoded at full size (a JPEG first shrinks itself by up to 8x while decoding, so a 50 MP
# photo decodes to under 1 MP). A decoded pixel costs about 6 bytes at the peak of `_pil_to_grey`
# (RGBA, then grey+alpha): 16 MP is ~100 MB (benchmarks/probe_limits.py measures it).
MAX_DECODED_PIXELS = 16_000_000
LARGE_DECODE = 2_000_000  # decodes bigger than this wait for one of LARGE_DECODE_SLOTS: memory stays bounded
LARGE_DECODE_SLOTS = 2
MAX_SKETCH_PARTS = 8  # background + layers of an image-editor value (the page sends 2)
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # what the docs promise; TIFF, ICO, PSD... are refused
WORK_SIDE = 128  # larger inputs are reduced to this before the ink analysis: 20 px is the goal
STROKE_SIDE = 4 * BOX  # the ink's longest side while stroke widths are normalised
MIN_CONTRAST = 0.10  # ink must differ from the paper by this much (0..1) to count as ink
FLAT_PAPER = 2 / 255  # a border this uniform is a digital canvas or a scan: no lighting gradient to fit
MIN_SPECK_FRACTION = 0.02  # connected ink smaller than this share of all ink is a speck
TARGET_STROKE = (1.5, 4.0)  # stroke width range in 28x28 pixels that MNIST digits have


class InvalidImageError(ValueError):
    """The input cannot be turned into a character image; the message says why, for the user."""


class BlankImageError(InvalidImageError):
    """The input holds no ink: an empty canvas, a blank page, a uniform image."""


# ---------------------------------------------------------------------------------------------------
# 1-2. Decoding to grey

# The side decoded pictures are reduced to: WORK_SIDE for one character; `to_grey_at` raises it for a
# whole line of writing (a context variable, so concurrent requests each keep their own).
_work_side: contextvars.ContextVar[int] = contextvars.ContextVar("work_side", default=WORK_SIDE)


def to_grey_at(value, work_side: int) -> np.ndarray:
    """`to_grey`, reducing large pictures to `work_side` instead of WORK_SIDE (a word needs more pixels)."""
    token = _work_side.set(int(work_side))
    try:
        return to_grey(value)
    finally:
        _work_side.reset(token)


def oriented_size(size: tuple[int, int] | None, decoded: np.ndarray) -> tuple[int, int]:
    """An input's (width, height) from its header (`image_size`), turned as its decoded picture stands
    (EXIF may have turned it); the decoded picture's own when the header said nothing."""
    if size is None:
        return int(decoded.shape[1]), int(decoded.shape[0])
    if (size[0] > size[1]) != (decoded.shape[1] > decoded.shape[0]):
        return size[1], size[0]
    return size


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
        return _open_image(io.BytesIO(bytes(value)), draft=False).size
    if isinstance(value, (str, os.PathLike)) and Path(value).is_file():
        return _open_image(Path(value), draft=False).size
    return _decode(value).size  # a PIL image (its size as given), or the error `to_grey` would raise


def to_grey(value) -> np.ndarray:
    """Any supported input -> float32 H x W in [0, 1], 1 = white, transparency flattened onto white."""
    if value is None:
        raise BlankImageError("No image was given: draw a character or upload a picture of one.")
    if isinstance(value, dict):
        return _sketch_to_grey(value)
    if isinstance(value, np.ndarray):
        return _array_to_grey(value)
    img = _decode(value)
    with _decode_slot(decode_pixels(img)):
        return _pil_to_grey(_load(img))


def _decode(value) -> Image.Image:
    """A PIL image, bytes or a file path -> a PIL image whose header is checked and pixels not yet decoded."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _open_image(io.BytesIO(bytes(value)))
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise InvalidImageError("The image file could not be found on the server; please upload it again.")
        return _open_image(path)
    raise InvalidImageError(f"Unsupported input of type {type(value).__name__}: send an image.")


def _sketch_to_grey(value: dict) -> np.ndarray:
    """A Sketchpad/ImageEditor value: the composite, else the background with its layers on top.

    Every part's header is read and the whole composition's cost checked before any pixel is decoded:
    a 1 KB request naming one huge upload six times is refused at once."""
    composite = value.get("composite")
    if composite is not None:
        return to_grey(composite)
    layers = value.get("layers") or []
    if not isinstance(layers, (list, tuple)):
        raise InvalidImageError("The sketch's 'layers' must be a list of images.")
    parts = [p for p in [value.get("background"), *layers] if p is not None]
    if not parts:
        raise BlankImageError("The canvas is empty: draw a character first.")
    if len(parts) > MAX_SKETCH_PARTS:
        raise InvalidImageError(f"The sketch has {len(parts)} parts: at most {MAX_SKETCH_PARTS} (a background and "
                                "its layers) are accepted.")
    parts = [p if isinstance(p, np.ndarray) else _decode(p) for p in parts]
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
    with _decode_slot(cost):
        canvas = Image.new("RGBA", canvas_size, (255, 255, 255, 255))
        for part in parts:
            img = _to_rgba(part)
            if img.size != canvas.size:
                img = img.resize(canvas.size)
            canvas.alpha_composite(img)
        return _pil_to_grey(canvas)


def _to_rgba(part) -> Image.Image:
    """One editor part (background or a layer) as RGBA, its transparency kept for compositing."""
    if not isinstance(part, np.ndarray):
        return _load(part).convert("RGBA")
    unit = _as_unit_float(_checked_shape(part))
    if unit.ndim == 2:
        unit = unit[..., None]
    channels = unit.shape[-1]
    colour = unit[..., :3] if channels >= 3 else np.repeat(unit[..., :1], 3, axis=-1)
    alpha = unit[..., -1:] if channels in (2, 4) else np.ones_like(unit[..., :1])
    rgba = np.concatenate([colour, alpha], axis=-1)
    return Image.fromarray(np.round(rgba * 255).astype(np.uint8), "RGBA")


def _open_image(source, draft: bool = True) -> Image.Image:
    """Read and check the header only: the format, the size, and what decoding it would cost.

    `draft=False` leaves the image at its stored size (`image_size` reports it; nothing is decoded)."""
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
    if not draft:
        return img
    stored_pixels = img.width * img.height
    if _is_progressive(img) and stored_pixels > MAX_DECODED_PIXELS:
        raise InvalidImageError(
            f"The image is a progressive JPEG of {img.width}x{img.height}: at most "
            f"{MAX_DECODED_PIXELS // 1_000_000} megapixels are accepted for progressive JPEGs (save it as a "
            "baseline JPEG or PNG, or smaller)."
        )
    side = _work_side.get()
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


def _is_progressive(img: Image.Image) -> bool:
    return img.format == "JPEG" and bool(img.info.get("progressive") or img.info.get("progression"))


def decode_pixels(img: Image.Image) -> int:
    """What decoding `img` costs, in pixels: its (drafted) size, or a progressive JPEG's full stored size."""
    return getattr(img, "decode_pixels", img.width * img.height)


def _load(img: Image.Image) -> Image.Image:
    """Decode the pixels of an image opened by `_open_image`."""
    try:
        img.load()
    except Image.DecompressionBombError:
        raise InvalidImageError(_too_big_message()) from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
        raise InvalidImageError("The image file is damaged or incomplete: upload it again or use another picture.") from None
    return img


_large_decodes = threading.BoundedSemaphore(LARGE_DECODE_SLOTS)


@contextmanager
def _decode_slot(pixels: int):
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


def _too_big_message() -> str:
    return f"The image is too large: at most {MAX_PIXELS // 1_000_000} megapixels are accepted."


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InvalidImageError(_too_big_message() + f" This one is {width}x{height}.")
    if min(width, height) < MIN_SIDE:
        raise InvalidImageError(
            f"The image is too small ({width}x{height} pixels): it must be at least {MIN_SIDE}x{MIN_SIDE}."
        )


_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}  # EXIF orientation -> the turn that undoes it (as ImageOps.exif_transpose)


def _orientation(img: Image.Image):
    """How a phone stored the photo sideways (EXIF orientation), or None; a broken EXIF block is ignored."""
    try:
        return _ORIENTATION.get(img.getexif().get(0x0112))
    except Exception:  # a broken EXIF block is no reason to refuse the picture
        return None


def _pil_to_grey(img: Image.Image) -> np.ndarray:
    """Decoded image -> grey in [0, 1], done in Pillow's C code (flatten onto white, luma, shrink)."""
    _check_size(*img.size)
    turn = _orientation(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16-bit and float: numpy knows the range
        return _array_to_grey(np.asarray(img.transpose(turn) if turn is not None else img))
    side = _work_side.get()
    if img.width * img.height > LARGE_DECODE and max(img.size) >= 4 * side:
        grey = _reduced_grey(img)
    else:
        if img.mode != "RGBA":
            img = img.convert("RGBA")  # palettes (with transparency), CMYK, LA, 1-bit, ... all go through RGBA
        if np.asarray(img.getchannel("A")).min() < 255:  # what lies under transparency is not ink (numpy: 3x getextrema's speed)
            img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
        grey = img.convert("L")
    if turn is not None:
        grey = grey.transpose(turn)
    if max(grey.size) > side:
        scale = side / max(grey.size)
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32) / 255.0


def _reduced_grey(img: Image.Image) -> Image.Image:
    """A large image flattened onto white and box-reduced to about twice the work size, in one-byte planes:
    never a second full-size RGBA copy (a 16 MP RGBA picture would take 64 MB more per copy).

    Flattening is linear in the premultiplied grey: white-flattened grey = L*A/255 + 255 - A, so reducing
    L*A and A apart and combining them afterwards is the flattened picture reduced."""
    factor = max(1, max(img.size) // (2 * _work_side.get()))
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


def _array_to_grey(arr: np.ndarray) -> np.ndarray:
    arr = _checked_shape(np.asarray(arr))
    if arr.dtype == np.uint8 and (arr.ndim == 2 or arr.shape[-1] in (3, 4)):  # the common case: Pillow's C code
        return _pil_to_grey(Image.fromarray(np.ascontiguousarray(arr)))
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


# ---------------------------------------------------------------------------------------------------
# 3-4. Finding the ink


def ink_map(grey: np.ndarray) -> np.ndarray:
    """float32 H x W: 0 where paper, up to 1 where the strongest ink is, whatever the polarity."""
    h, w = grey.shape
    edge = max(1, min(h, w) // 20)
    border = np.concatenate([grey[:edge].ravel(), grey[-edge:].ravel(), grey[:, :edge].ravel(), grey[:, -edge:].ravel()])
    (paper,) = _quantiles(border, (0.5,))
    lo, hi = _quantiles(grey[::2, ::2], (0.01, 0.99))  # a quarter of the pixels estimates these as well
    dark_ink = (paper - lo) >= (hi - paper)
    signed = (paper - grey) if dark_ink else (grey - paper)
    strength = _strength(signed, at_least=max(paper - lo, hi - paper))
    if strength >= MIN_CONTRAST:
        flat_paper = float(border.max() - border.min()) <= FLAT_PAPER  # a canvas has no lighting to even out
        background = None if flat_paper else _fitted_background(signed)
        if background is not None:
            signed = signed - background
            strength = _strength(signed, at_least=strength - float(background.max()))
        if strength >= MIN_CONTRAST:
            return _clamp01(signed / strength).astype(np.float32, copy=False)
    raise BlankImageError(
        "No handwriting found: the image looks blank. Draw or photograph a dark character on a light background."
    )


def _clamp01(x: np.ndarray) -> np.ndarray:
    """np.clip(x, 0, 1) for finite x, as two ufunc calls: np.clip's own Python layer costs more here."""
    out = np.maximum(x, 0.0)
    return np.minimum(out, 1.0, out=out)


def _quantiles(values: np.ndarray, fractions: tuple[float, ...]) -> list[float]:
    """np.quantile's default (linear) quantiles from one partition: on these few thousand values
    np.median and np.percentile spend several times the work in their own Python layers."""
    flat = values.ravel()
    positions = [f * (flat.size - 1) for f in fractions]
    below = [int(p) for p in positions]
    above = [min(b + 1, flat.size - 1) for b in below]
    part = np.partition(flat, sorted(set(below + above)))
    return [float(part[b]) + (float(part[a]) - float(part[b])) * (p - b) for p, b, a in zip(positions, below, above)]


def _strength(signed: np.ndarray, at_least: float) -> float:
    """The ink level: the k-th strongest pixel, so a few hot pixels of noise cannot set it.

    `at_least` is a guess of a level the answer is above; it only makes the search fast (a blank
    canvas is mostly equal values, which numpy's partition handles slowly), never changes it."""
    values = signed.ravel()
    k = max(16, values.size // 2000)
    top = values[values >= at_least]
    if top.size < k:
        top = values
    return float(np.partition(top, -k)[-k])


def _fitted_background(signed: np.ndarray) -> np.ndarray | None:
    """A plane fitted to the paper (pixels well below the ink): evens out a photo's lighting gradient.

    None when too little paper is seen to fit one. Least squares through its 3x3 normal equations,
    in coordinates centred on the image so they stay well conditioned."""
    h, w = signed.shape
    step = max(1, int(np.sqrt(h * w / 4096)))  # a few thousand samples fit a plane as well as all
    sample = signed[::step, ::step]
    paper = sample < _otsu(sample) * 0.5
    n = int(paper.sum())
    if n < 16 or n == paper.size:
        return None
    ys, xs = np.nonzero(paper)
    ys = ys * step - (h - 1) / 2
    xs = xs * step - (w - 1) / 2
    values = sample[paper]
    design = np.array([[n, ys.sum(), xs.sum()],
                       [ys.sum(), ys @ ys, ys @ xs],
                       [xs.sum(), xs @ ys, xs @ xs]])
    target = np.array([values.sum(), ys @ values, xs @ values], dtype=np.float64)
    try:
        c0, cy, cx = np.linalg.solve(design, target)
    except np.linalg.LinAlgError:  # the paper samples lie on a line: no plane to fit
        return None
    rows = (cy * (np.arange(h) - (h - 1) / 2)).astype(np.float32)
    cols = (c0 + cx * (np.arange(w) - (w - 1) / 2)).astype(np.float32)
    return rows[:, None] + cols[None, :]


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold: the level that best splits `values` into two classes (paper and ink).

    The 64-bin histogram is counted with bincount: np.histogram costs three times as much here."""
    bins = 64
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:  # one value: np.histogram's convention of a unit range around it
        lo, hi = lo - 0.5, hi + 0.5
    index = ((values.astype(np.float32, copy=False) - np.float32(lo)) * np.float32(bins / (hi - lo))).astype(np.intp)
    np.minimum(index, bins - 1, out=index)  # the maximum lands one past the last bin
    hist = np.bincount(index.ravel(), minlength=bins)
    edges = np.linspace(lo, hi, bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist)
    total = weight[-1]
    mean = np.cumsum(hist * centres)
    between = (mean[-1] * weight - mean * total) ** 2 / np.maximum(weight * (total - weight), 1e-12)
    return float(centres[int(np.argmax(between[:-1]))])


def clean_ink(ink: np.ndarray, min_speck_fraction: float = MIN_SPECK_FRACTION) -> np.ndarray:
    """Keep the strokes: zero everything outside connected ink blobs of a reasonable size.

    A line of writing passes a smaller `min_speck_fraction`: an i's dot is under 2% of a word's ink."""
    mask = ink > max(_otsu(ink), 0.2)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        raise BlankImageError("No handwriting found: the image looks blank.")
    if count == 1:  # one connected drawing: nothing to drop
        strokes = mask
    else:
        areas = np.bincount(labels.ravel())[1:]
        keep = np.concatenate([[False], areas >= min_speck_fraction * areas.sum()])
        strokes = keep[labels]
    near_strokes = _grow(strokes, 2)  # keep the anti-aliased rims
    soft = _clamp01((ink - 0.1) / 0.9)  # paper texture below 10% of the ink goes
    return (soft * near_strokes).astype(np.float32, copy=False)  # zero away from the strokes


def _grow(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary dilation by the 4-neighbour cross, `steps` times: ndimage.binary_dilation(mask,
    iterations=steps) in a fifth of its time, which matters on the per-request path."""
    for _ in range(steps):
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        mask = grown
    return mask


def _shrink(mask: np.ndarray) -> np.ndarray:
    """Binary erosion by the 4-neighbour cross, outside the image counting as background: what
    ndimage.binary_erosion(mask) gives, in a third of its time."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    return inner


# ---------------------------------------------------------------------------------------------------
# 5-6. MNIST normalisation


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: area over half the outline length (a long stroke is 2L by w)."""
    area = int(mask.sum())
    outline = area - int(_shrink(mask).sum())
    return float(2.0 * area / max(outline, 1))


def _normalise_strokes(ink: np.ndarray) -> np.ndarray:
    """Bring the stroke width (ink at STROKE_SIDE scale) into MNIST's range.

    A fat brush on a small drawing would become a blob at 20 px; a hair-thin pen line in a big photo
    would fade away. Erosion and dilation by a disk, done exactly and fast with distance transforms."""
    factor = STROKE_SIDE / BOX
    mask = ink > 0.5
    if not mask.any():
        return ink
    width = _stroke_width(mask) / factor  # in 28x28 pixels
    low, high = TARGET_STROKE
    if width > high:
        radius = (width - (low + high) / 2) * factor / 2
        thinner = np.clip(ndimage.distance_transform_edt(mask) - radius, 0.0, 1.0).astype(np.float32)
        if (thinner > 0.5).sum() > 0.2 * mask.sum():  # never erode a shape away
            return thinner
    elif width < low:
        radius = (low - width) * factor / 2
        halo = np.clip(radius + 1.0 - ndimage.distance_transform_edt(~mask), 0.0, 1.0)
        return np.maximum(ink, halo).astype(np.float32)
    return ink


def _resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-average when shrinking (anti-aliased, as MNIST), bilinear when enlarging."""
    shrinking = width < img.shape[1] or height < img.shape[0]
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(img.astype(np.float32, copy=False), mode="F").resize((width, height), resample))


def center_in_frame(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink, scale the longest side to BOX, centre by centre of mass in SIZE x SIZE."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = STROKE_SIDE / max(h, w)
    crop = _resize(crop, max(1, round(w * scale)), max(1, round(h * scale)))
    crop = _normalise_strokes(_clamp01(crop))
    h, w = crop.shape
    new_w, new_h = max(1, round(w * BOX / STROKE_SIDE)), max(1, round(h * BOX / STROKE_SIDE))
    small = np.maximum(_resize(crop, new_w, new_h), 0.0)
    if small.max() <= 0:
        raise BlankImageError("No handwriting found: the strokes are too faint.")
    small = small / small.max()
    cy, cx = _center_of_mass(small)
    top = min(max(round(SIZE / 2 - cy), 0), SIZE - new_h)
    left = min(max(round(SIZE / 2 - cx), 0), SIZE - new_w)
    out = np.zeros((SIZE, SIZE), np.float32)
    out[top : top + new_h, left : left + new_w] = small
    return out


def _center_of_mass(img: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted centre: ndimage.center_of_mass in a fifth of its time."""
    total = float(img.sum())
    rows = float(img.sum(axis=1) @ np.arange(img.shape[0])) / total
    cols = float(img.sum(axis=0) @ np.arange(img.shape[1])) / total
    return rows, cols


def _work_size(grey: np.ndarray) -> np.ndarray:
    """Reduce large inputs by area averaging: the analysis needs far fewer than 20 px per stroke."""
    h, w = grey.shape
    if max(h, w) <= WORK_SIDE:
        return grey
    scale = WORK_SIDE / max(h, w)
    return _resize(grey, max(1, round(w * scale)), max(1, round(h * scale)))


def to_model_input(value) -> np.ndarray:
    """Any supported input -> float32 28 x 28 in [0, 1], white ink on black, as MNIST."""
    grey = _work_size(to_grey(value))
    return center_in_frame(clean_ink(ink_map(grey)))
