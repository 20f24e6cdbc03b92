"""Make the page's examples from the committed test fixtures (MNIST and EMNIST samples): a photo of a
digit on paper, a letter, and a number and a word to read. Each is checked against the models before it
is kept, so every example shows an answer that is right.

    python examples/make.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "tests" / "fixtures"
sys.path.insert(0, str(HERE.parent))

from handwriting import service  # noqa: E402
from handwriting.tasks import get_task  # noqa: E402


def paper(ink: np.ndarray, seed: int) -> Image.Image:
    """Ink (0..1, white on black) as a phone photo of pencil on paper: warm, unevenly lit, a little noisy."""
    rng = np.random.default_rng(seed)
    h, w = ink.shape
    light = np.linspace(1.0, 0.86, w)[None, :] * np.linspace(0.97, 0.9, h)[:, None]
    base = np.stack([246 * light, 240 * light, 225 * light], -1) + rng.normal(0, 3, (h, w, 3))
    pencil = np.array([52.0, 50.0, 60.0])
    rgb = base * (1 - ink[..., None]) + pencil * ink[..., None]
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def glyph(image28: np.ndarray, height: int) -> np.ndarray:
    """A 28x28 white-on-black sample's ink, cropped and scaled to `height` px (0..1)."""
    rows, cols = np.flatnonzero(image28.max(1) > 40), np.flatnonzero(image28.max(0) > 40)
    crop = image28[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    width = max(2, round(crop.shape[1] * height / crop.shape[0]))
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR)) / 255.0


def line(glyphs: list[np.ndarray], gap: int = 24, pad: int = 30, baseline: list[int] | None = None) -> np.ndarray:
    """Glyphs side by side on one line, bottoms aligned (or at `baseline` offsets)."""
    height = max(g.shape[0] for g in glyphs) + 2 * pad
    ink = np.zeros((height, sum(g.shape[1] for g in glyphs) + gap * (len(glyphs) - 1) + 2 * pad))
    x = pad
    for i, g in enumerate(glyphs):
        y = height - pad - g.shape[0] - (baseline[i] if baseline else 0)
        ink[y: y + g.shape[0], x: x + g.shape[1]] = np.maximum(ink[y: y + g.shape[0], x: x + g.shape[1]], g)
        x += g.shape[1] + gap
    return ink


def surest(x, y, label: int, task: str) -> np.ndarray:
    """The fixture's sample of `label` the model is surest of."""
    best = max(np.flatnonzero(y == label), key=lambda i: service.predict(255 - np.asarray(
        Image.fromarray(x[i]).resize((112, 112))), task).as_dict().get(get_task(task).labels[label], 0.0))
    return x[best]


def main() -> None:
    with np.load(FIXTURES / "mnist_test_200.npz") as d:
        mx, my = d["x"], d["y"].astype(int)
    with np.load(FIXTURES / "emnist_preprocessed_310.npz") as d:
        ex, ey = d["x"], d["y"].astype(int)
    everything = get_task("all").labels

    digit = paper(np.pad(glyph(surest(mx, my, 7, "digits"), 150), 40), seed=1)
    digit.save(HERE / "digit-7-photo.jpg", quality=82)

    letters = get_task("letters").labels
    in_all = {c: everything.index(c) for c in letters}
    letter = paper(np.pad(glyph(surest(ex, ey, in_all["R"], "all"), 150), 40), seed=2)
    letter.save(HERE / "letter-R-photo.jpg", quality=82)

    number = [glyph(surest(mx, my, int(c), "digits"), 110) for c in "2026"]
    paper(line(number), seed=3).save(HERE / "number-2026.jpg", quality=82)

    word = [glyph(surest(ex, ey, in_all[c], "all"), h) for c, h in zip("hello", (110, 70, 110, 110, 70))]
    paper(line(word, gap=14), seed=4).save(HERE / "word-hello.jpg", quality=82)

    for name, task, kind in [("digit-7-photo.jpg", "digits", "predict"), ("letter-R-photo.jpg", "letters", "predict"),
                             ("number-2026.jpg", "digits", "read"), ("word-hello.jpg", "letters", "read")]:
        path = str(HERE / name)
        said = service.predict(path, task).label if kind == "predict" else service.read(path, task).text
        print(f"{name}: {task} {kind} -> {said!r} ({Path(path).stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
