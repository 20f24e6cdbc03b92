"""Benchmark inputs: committed MNIST test digits rendered the ways users send them, and bad files.

Every good sample is kept only if the model, called in this process, reads each of its forms as the
true label, so an HTTP answer can be checked exactly (the server runs the same code on the same bytes).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "mnist_test_200.npz"


def render_sketch(digit: np.ndarray) -> np.ndarray:
    """28x28 white-on-black digit -> 280x280 RGBA canvas composite: opaque white, black 0/255 strokes."""
    big = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BILINEAR))
    canvas = np.full((280, 280, 4), 255, np.uint8)
    canvas[big > 127, :3] = 0
    return canvas


def render_png(digit: np.ndarray, path: Path) -> Path:
    """A 200x200 RGB scan-like PNG: dark anti-aliased digit on white."""
    big = Image.fromarray(255 - digit).resize((200, 200), Image.Resampling.BILINEAR)
    big.convert("RGB").save(path)
    return path


def render_photo(digit: np.ndarray, path: Path, seed: int = 0) -> Path:
    """A 1000x800 photo-like JPEG: grey paper, lighting gradient, blur, sensor noise, dark pen digit."""
    rng = np.random.default_rng(seed)
    h, w = 800, 1000
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    paper = 0.50 + 0.25 * xx + 0.10 * yy  # brighter towards the lower right
    ink = np.zeros((h, w), np.float32)
    side = 420
    stroke = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)) / 255.0
    top, left = 190, 300
    ink[top : top + side, left : left + side] = stroke
    ink = ndimage.gaussian_filter(ink, 2.0)
    grey = paper * (1.0 - 0.75 * ink) + rng.normal(0.0, 0.03, (h, w))
    rgb = np.clip(np.stack([grey * 1.02, grey, grey * 0.95], axis=-1) * 255, 0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(path, quality=85)
    return path


@dataclass
class Sample:
    """One digit in every form."""

    label: str
    sketch: dict  # Sketchpad value with a numpy composite (what a Python caller of the library passes)
    sketch_png: Path  # the same composite as the RGBA PNG the browser uploads to /predict_sketch
    png: Path
    photo: Path

    @property
    def sketch_as_served(self) -> dict:
        """What the app's predict function gets for a drawing: the uploaded composite's file path."""
        return {"background": None, "layers": [], "composite": str(self.sketch_png)}


def make_samples(folder: Path, task: str = "digits", per_class: int = 1, max_tries: int = 200) -> tuple[list[Sample], int]:
    """Up to `per_class` samples of each class whose every form the model reads as its true label.

    Returns the samples (sorted by label) and how many fixture digits were looked at.
    """
    from handwriting.service import predict

    with np.load(FIXTURES) as data:
        xs, ys = data["x"], data["y"].astype(int)
    found: dict[int, list[Sample]] = {}
    tried = 0
    for i, (x, y) in enumerate(zip(xs[:max_tries], ys[:max_tries])):
        if len(found.get(y, [])) >= per_class:
            continue
        tried += 1
        composite = render_sketch(x)
        sketch_png = folder / f"sketch_{i}.png"
        Image.fromarray(composite, "RGBA").save(sketch_png)
        sample = Sample(
            label=str(y),
            sketch={"background": None, "layers": [], "composite": composite},
            sketch_png=sketch_png,
            png=render_png(x, folder / f"digit_{i}.png"),
            photo=render_photo(x, folder / f"photo_{i}.jpg", seed=i),
        )
        forms = (sample.sketch, sample.sketch_as_served, sample.png, sample.photo)
        if all(predict(f, task).label == sample.label for f in forms):
            found.setdefault(y, []).append(sample)
        if sum(map(len, found.values())) == 10 * per_class:
            break
    if not found:
        raise SystemExit("The model reads none of the fixture digits correctly in every form: is models/digits trained?")
    return [s for k in sorted(found) for s in found[k]], tried


def top_label(probabilities: dict[str, float]) -> str:
    return max(probabilities, key=probabilities.get)


# ---------------------------------------------------------------------------------------------------
# Bad files: each must be refused with a clear message


def encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def text_as_png() -> bytes:
    """A text file renamed .png."""
    return b"this is a shopping list, not a picture: eggs, milk, bread\n" * 4


def truncated_png(sample: Sample) -> bytes:
    data = sample.png.read_bytes()
    return data[: len(data) // 2]


def tiny_png() -> bytes:
    return encode(Image.new("L", (1, 1), 0))


def bomb_header_png(side: int = 100_000) -> bytes:
    """A ~100-byte PNG whose header claims side x side pixels (a decompression bomb): the header is rewritten."""
    data = bytearray(encode(Image.new("L", (16, 16), 255)))
    assert data[12:16] == b"IHDR"
    data[16:20] = side.to_bytes(4, "big")
    data[20:24] = side.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # the chunk's CRC covers type + data
    return bytes(data)


def oversize_file(limit_bytes: int) -> bytes:
    """More bytes than the app's upload limit (Gradio's max_file_size refuses it at the upload)."""
    return b"\x00" * (limit_bytes + 64 * 1024)
