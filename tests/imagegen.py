"""Test inputs made from the committed MNIST fixture digits: canvases, photos, odd file formats."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def dark_on_white(digit: np.ndarray, size: int = 200) -> np.ndarray:
    """An MNIST digit (white on black, 28x28) as black ink on white paper, upscaled, uint8."""
    img = Image.fromarray(255 - digit).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img)


def canvas_rgba(digit: np.ndarray, size: int = 280, box: tuple[int, int, int] | None = None) -> np.ndarray:
    """What the browser's Sketchpad sends: opaque white RGBA with pure black (0/255) strokes.

    `box` = (top, left, side) places the digit at a position and size on the canvas."""
    top, left, side = box or (0, 0, size)
    strokes = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)) > 100
    canvas = np.full((size, size, 4), 255, np.uint8)
    region = canvas[top : top + side, left : left + side]
    region[strokes, :3] = 0
    return canvas


def transparent_layer(digit: np.ndarray, size: int = 280) -> np.ndarray:
    """A Sketchpad layer: transparent (RGB 0 under alpha 0) except the black stroke."""
    strokes = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR)) > 100
    layer = np.zeros((size, size, 4), np.uint8)
    layer[strokes, 3] = 255
    return layer


def photo(digit: np.ndarray, size=(640, 480), seed: int = 0) -> np.ndarray:
    """A phone-photo-like RGB picture: grey, unevenly lit paper, sensor noise, a dark-blue pen digit."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 150 + 50 * xx / w + 25 * yy / h  # a lighting gradient across the page
    side = int(min(w, h) * 0.6)
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)) / 255.0
    alpha = np.zeros((h, w))
    top, left = (h - side) // 2 + 10, (w - side) // 2 - 30
    alpha[top : top + side, left : left + side] = ink
    rgb = np.stack([paper * (1 - 0.75 * alpha), paper * (1 - 0.7 * alpha), paper * (1 - 0.5 * alpha)], axis=-1)
    rgb += rng.normal(0, 4, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def encode(img: Image.Image | np.ndarray, fmt: str = "PNG", **kwargs) -> bytes:
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def png_16bit(digit: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG (mode I;16) of the digit, dark on white."""
    arr = dark_on_white(digit).astype(np.uint16) * 257
    return encode(Image.fromarray(arr))  # uint16 -> mode I;16


def cmyk_jpeg(digit: np.ndarray) -> bytes:
    return encode(Image.fromarray(dark_on_white(digit)).convert("CMYK"), "JPEG", quality=90)


def huge_png(side: int = 20000) -> bytes:
    """A small file that decodes to side x side pixels (a decompression bomb), built row by row."""
    return encode(Image.new("1", (side, side), 1), optimize=False)


def truncated_png(digit: np.ndarray) -> bytes:
    data = encode(dark_on_white(digit))
    return data[: len(data) // 2]


def over_upload_limit(seed: int = 0) -> bytes:
    """A valid BMP of about 14.5 MB: over the app's 10 MB default upload limit, refused before decoding."""
    return encode(np.random.default_rng(seed).integers(0, 255, (2200, 2200, 3), np.uint8), "BMP")


def write_files(folder: Path, contents: dict[str, bytes]) -> dict[str, str]:
    """Write each name's bytes into `folder`; returns name -> path (str, as gradio_client's handle_file takes)."""
    paths = {}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
        paths[name] = str(folder / name)
    return paths


def png_header_bomb(width: int = 7000, height: int = 7000) -> bytes:
    """A ~100-byte RGBA PNG whose header claims width x height: decoding it would allocate the whole image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
