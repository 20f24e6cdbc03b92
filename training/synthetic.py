"""Synthetic handwritten characters: fonts drawn like pen on paper, then the app's own preprocessing.

    python -m training.synthetic --per-class 2000 [--fonts-dir data/fonts] [--out data/synthetic/...npz]

EMNIST cannot be had here, so the letter models learn from characters this module draws. What makes a
render look like real handwriting is variety of *writing*, not of pictures: many handwriting fonts
(`training.fonts`), single-stroke Hershey fonts drawn stroke by stroke with a pen whose width, position
and path wobble (as a canvas stroke looks), then the whole character bent (rotation, shear, aspect,
elastic distortion), thickened or thinned, and photographed (paper tone, ink tone, blur, noise, specks,
a small crop). Every render ends in `handwriting.preprocessing.to_model_input`, the one path user input
takes, so the model sees training data exactly as it will see a user's.

Characters are drawn at the font's own size (never scaled to fill the frame): a small letter becomes
relatively thicker once preprocessing scales it up, as a small handwritten letter does.

The result is cached once (uint8 28x28, labels in the "all" task's order, the font of each render):
training reads the cache, never renders.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import lru_cache
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy import ndimage

from handwriting.tasks import labels_for
from handwriting.preprocessing import InvalidImageError, to_model_input
from training.config import SYNTHETIC_DIR
from training.fonts import FontSpec, default_fonts_dir, load_manifest

CANVAS = 128  # render side in pixels; the character's body is about a third of it
ALL_LABELS = labels_for("all")
CACHE_DIR = SYNTHETIC_DIR


# ---------------------------------------------------------------------------------------------------
# Fonts


@lru_cache(maxsize=256)
def _outline_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    if path == "<default>":  # Pillow's bundled FreeType font: tests run on a fresh clone with it
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=None)
def _hershey(name: str):
    from HersheyFonts import HersheyFonts

    font = HersheyFonts()
    font.load_default_font(name)
    font.normalize_rendering(1.0)  # strokes in units of the font's cap height, y UPWARDS
    return font


def _hershey_strokes(name: str, char: str) -> list[np.ndarray]:
    """The strokes of `char` in image coordinates (y downwards: the library's y points up)."""
    return [np.array(s, float) * (1.0, -1.0) for s in _hershey(name).strokes_for_text(char) if len(s) > 1]


def _glyph_mask(spec: FontSpec, char: str, size: int = 48) -> np.ndarray:
    """A plain render of `char` (bool, cropped to the ink), for the coverage checks."""
    img = Image.new("L", (CANVAS, CANVAS), 0)
    if spec.kind == "stroke":
        draw = ImageDraw.Draw(img)
        for stroke in _hershey_strokes(spec.family, char):
            pts = [(CANVAS / 2 + x * size, CANVAS / 2 + y * size) for x, y in stroke]
            draw.line(pts, fill=255, width=3)
    else:
        ImageDraw.Draw(img).text((CANVAS / 2, CANVAS / 2), char, font=_outline_font(spec.path, size), fill=255, anchor="mm")
    mask = np.asarray(img) > 127
    if not mask.any():
        return mask
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _shape(mask: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((16, 16), Image.Resampling.BOX)) / 255.0


def usable_chars(spec: FontSpec, chars=ALL_LABELS) -> list[str]:
    """The characters `spec` really draws: no missing glyphs (a .notdef box or nothing), no lower case
    from caps-only fonts (their "a" is a small "A", which would teach the model wrong labels)."""
    masks = {c: _glyph_mask(spec, c) for c in chars}
    notdef = _glyph_mask(spec, "\u0378") if spec.kind == "outline" else np.zeros((0, 0), bool)
    def drawn(c):
        m = masks[c]
        return m.any() and not (m.shape == notdef.shape and (m == notdef).all())
    ok = [c for c in chars if drawn(c)]
    distinct = [c for c in "abdeghnqrt" if c in ok and c.upper() in ok]
    same = sum(float(np.abs(_shape(masks[c]) - _shape(masks[c.upper()])).mean()) < 0.15 for c in distinct)
    if distinct and same >= 3:  # measured: only small-caps fonts draw 3+ of these like their capitals
        ok = [c for c in ok if not c.islower()]
    return ok


# ---------------------------------------------------------------------------------------------------
# Drawing one character


def _draw_strokes(spec: FontSpec, char: str, size: float, rng: np.random.Generator) -> Image.Image:
    """A Hershey character drawn stroke by stroke, each with its own offset, tilt and wobble, with a
    pen whose width drifts along the stroke: what a finger or a pen on a canvas leaves."""
    img = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(img)
    pen = rng.uniform(0.05, 0.16) * size
    strokes = _hershey_strokes(spec.family, char)
    if not strokes:
        return img
    allpts = np.concatenate(strokes)
    centre = (allpts.min(0) + allpts.max(0)) / 2
    for stroke in strokes:
        pts = (stroke - centre) * size
        # per-stroke variation: a small shift and rotation about the stroke's own centre
        angle = np.deg2rad(rng.normal(0, 4))
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        mid = pts.mean(0)
        pts = (pts - mid) @ rot.T + mid + rng.normal(0, 0.03 * size, 2)
        # a smooth wobble along the path (resampled so long segments bend too)
        length = np.r_[0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
        if length[-1] > 0:
            t = np.linspace(0, length[-1], max(2, int(length[-1] / 2)))
            pts = np.stack([np.interp(t, length, pts[:, 0]), np.interp(t, length, pts[:, 1])], 1)
            wobble = ndimage.gaussian_filter1d(rng.normal(0, 0.05 * size, pts.shape), sigma=6, axis=0, mode="nearest")
            pts = pts + wobble * 1.2
        pts += CANVAS / 2
        widths = np.clip(pen * (1 + np.cumsum(rng.normal(0, 0.04, len(pts)))), 1.0, None)
        for (x0, y0), (x1, y1), w in zip(pts[:-1], pts[1:], widths):
            draw.line([(x0, y0), (x1, y1)], fill=255, width=max(1, round(w)))
            r = w / 2
            draw.ellipse([x1 - r, y1 - r, x1 + r, y1 + r], fill=255)
        r = widths[0] / 2
        draw.ellipse([pts[0, 0] - r, pts[0, 1] - r, pts[0, 0] + r, pts[0, 1] + r], fill=255)
    return img


def _draw_outline(spec: FontSpec, char: str, size: float, rng: np.random.Generator) -> Image.Image:
    img = Image.new("L", (CANVAS, CANVAS), 0)
    font = _outline_font(spec.path, int(size))
    thicken = int(rng.choice([0, 0, 0, 1, 1, 2]))  # a heavier pen
    ImageDraw.Draw(img).text((CANVAS / 2, CANVAS / 2), char, font=font, fill=255, anchor="mm",
                             stroke_width=thicken, stroke_fill=255)
    if rng.random() < 0.25:  # a finer pen: erode the ink, unless that would wipe out the character
        finer = img.filter(ImageFilter.MinFilter(3))
        if np.asarray(finer).sum() > 0.4 * np.asarray(img).sum():
            img = finer
    return img


def _bend(ink: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """Rotation, shear, aspect and an elastic distortion of the whole character (ink = 1)."""
    angle = np.deg2rad(rng.normal(0, 6))
    shear = rng.normal(0, 0.15)
    sx, sy = np.exp(rng.normal(0, 0.12)), np.exp(rng.normal(0, 0.06))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    forward = rot @ np.array([[1, shear], [0, 1]]) @ np.diag([sx, sy])
    inverse = np.linalg.inv(forward)
    c = CANVAS / 2
    offset = np.array([c, c]) - inverse @ np.array([c, c])
    coeffs = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    ink = ink.transform(ink.size, Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR, fillcolor=0)
    arr = np.asarray(ink, np.float32) / 255.0
    alpha, sigma = rng.uniform(0, 3), rng.uniform(8, 12)
    if alpha > 0.5:
        dy = ndimage.gaussian_filter(rng.uniform(-1, 1, arr.shape), sigma) * alpha * sigma
        dx = ndimage.gaussian_filter(rng.uniform(-1, 1, arr.shape), sigma) * alpha * sigma
        yy, xx = np.mgrid[0 : arr.shape[0], 0 : arr.shape[1]]
        arr = ndimage.map_coordinates(arr, [yy + dy, xx + dx], order=1, mode="constant")
    return arr


def _photograph(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ink (1 = ink) -> a grey photo crop of pen on paper (1 = white), like the upload path gets."""
    mask = ink > 0.2
    if mask.sum() < 40:  # the character was lost (a missing glyph, an eroded hairline): no picture
        return np.ones_like(ink)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    m = int(rng.uniform(0.08, 0.35) * max(h, w)) + 2
    top, left = max(0, rows[0] - m), max(0, cols[0] - m)
    ink = ink[top : rows[-1] + m + 1, left : cols[-1] + m + 1].copy()
    if rng.random() < 0.2:  # specks and fragments of neighbouring writing near the border
        for _ in range(rng.integers(1, 4)):
            y, x = rng.integers(0, ink.shape[0]), rng.integers(0, ink.shape[1])
            if rng.random() < 0.5:
                y = rng.choice([rng.integers(0, max(1, m)), ink.shape[0] - 1 - rng.integers(0, max(1, m))])
            r = int(rng.integers(1, 3))
            ink[max(0, y - 1) : y + 1, max(0, x - r) : x + r] = 1.0
    paper, tone = rng.uniform(0.55, 0.95), rng.uniform(0.0, 0.35)
    grey = paper - (paper - tone) * np.clip(ink, 0, 1)
    h, w = grey.shape
    grey = grey + np.linspace(-1, 1, w)[None, :] * rng.normal(0, 0.04) + np.linspace(-1, 1, h)[:, None] * rng.normal(0, 0.04)
    img = Image.fromarray(np.clip(grey * 255, 0, 255).astype(np.uint8))
    side = int(rng.uniform(18, 70))  # the crop sizes photos of single characters have
    scale = side / max(h, w)
    img = img.resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.BOX)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.0)))
    arr = np.asarray(img, np.float32) / 255.0 + rng.normal(0, rng.uniform(0, 0.025), (img.height, img.width))
    return np.clip(arr, 0, 1)


def render(spec: FontSpec, char: str, rng: np.random.Generator) -> np.ndarray:
    """One synthetic handwritten `char` in `spec`, as the grey photo a user would upload (1 = paper)."""
    size = rng.uniform(34, 52) if spec.kind == "outline" else rng.uniform(26, 40)
    draw = _draw_strokes if spec.kind == "stroke" else _draw_outline
    return _photograph(_bend(draw(spec, char, size, rng), rng), rng)


def sample(spec: FontSpec, char: str, rng: np.random.Generator) -> np.ndarray | None:
    """`render` through the app's preprocessing: uint8 28x28 white on black, or None if refused."""
    try:
        return np.round(to_model_input(render(spec, char, rng)) * 255).astype(np.uint8)
    except InvalidImageError:
        return None


# ---------------------------------------------------------------------------------------------------
# A whole data set


def _plan(specs: list[FontSpec], per_class: int, chars, stroke_share: float, seed: int):
    """(font index, label index) of every render: each class gets `per_class`, spread evenly over the
    fonts that draw it, with `stroke_share` of them from the stroke fonts."""
    rng = np.random.default_rng(seed)
    coverage = {i: set(usable_chars(s, chars)) for i, s in enumerate(specs)}
    jobs = []
    for char in chars:
        outline = [i for i, s in enumerate(specs) if s.kind == "outline" and char in coverage[i]]
        stroke = [i for i, s in enumerate(specs) if s.kind == "stroke" and char in coverage[i]]
        n_stroke = round(per_class * stroke_share) if stroke and outline else (per_class if stroke else 0)
        picks = list(rng.choice(stroke, n_stroke)) if n_stroke else []
        picks += list(rng.choice(outline, per_class - n_stroke)) if outline else []
        jobs += [(int(f), ALL_LABELS.index(char)) for f in picks]
    order = rng.permutation(len(jobs))
    return [jobs[i] for i in order], coverage


def _work(args):
    specs, jobs, seed = args
    rng = np.random.default_rng(seed)
    x, y, f = [], [], []
    for font, label in jobs:
        img = sample(specs[font], ALL_LABELS[label], rng)
        if img is not None:
            x.append(img), y.append(label), f.append(font)
    return np.array(x, np.uint8).reshape(-1, 28, 28), np.array(y, np.int64), np.array(f, np.int64)


def generate(specs: list[FontSpec], per_class: int, chars=ALL_LABELS, seed: int = 0, workers: int = 2,
             stroke_share: float = 0.3, chunk: int = 500, progress=None):
    """Render `per_class` samples of every char: (x uint8 N x 28 x 28, y indices into "all", font index)."""
    jobs, _ = _plan(specs, per_class, chars, stroke_share, seed)
    chunks = [(specs, jobs[i : i + chunk], seed * 100_003 + i) for i in range(0, len(jobs), chunk)]
    parts = []
    if workers > 1:
        with Pool(workers) as pool:
            for k, part in enumerate(pool.imap(_work, chunks)):
                parts.append(part)
                if progress:
                    progress(k + 1, len(chunks))
    else:
        parts = [_work(c) for c in chunks]
    x, y, f = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return x, y, f


def cache_path(per_class: int, seed: int) -> Path:
    return CACHE_DIR / f"synthetic_pc{per_class}_s{seed}.npz"


def build_cache(per_class: int, seed: int = 0, fonts_dir=None, out: Path | None = None, workers: int = 2) -> Path:
    """Generate once and save (with the font list and timing) under data/synthetic (git-ignored)."""
    specs = load_manifest(fonts_dir or default_fonts_dir())
    out = Path(out or cache_path(per_class, seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    def progress(done, total):
        if done % 10 == 0 or done == total:
            print(f"  {done}/{total} chunks, {time.time() - started:.0f} s", flush=True)
    x, y, f = generate(specs, per_class, seed=seed, workers=workers, progress=progress)
    seconds = time.time() - started
    info = {"per_class": per_class, "seed": seed, "n": int(len(y)), "generation_seconds": round(seconds, 1),
            "workers": workers, "fonts": [s.__dict__ for s in specs]}
    np.savez_compressed(out, x=x, y=y, font=f, info=json.dumps(info))
    print(f"wrote {out}: {len(y)} renders from {len(specs)} fonts in {seconds:.0f} s")
    return out


def load_cache(path: Path | str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    with np.load(path) as d:
        return d["x"], d["y"], d["font"], json.loads(str(d["info"]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fonts-dir", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--preview", default=None, help="write a PNG grid of renders instead of a cache")
    args = parser.parse_args(argv)
    if args.preview:
        specs = load_manifest(args.fonts_dir)
        x, y, _ = generate(specs, 12, seed=args.seed, workers=1)
        grid = np.zeros((62 * 28, 12 * 28), np.uint8)
        for k in range(62):
            imgs = x[y == k][:12]
            for j, img in enumerate(imgs):
                grid[k * 28 : (k + 1) * 28, j * 28 : (j + 1) * 28] = img
        Image.fromarray(grid).save(args.preview)
        return
    build_cache(args.per_class, args.seed, args.fonts_dir, args.out, args.workers)


if __name__ == "__main__":
    main()
