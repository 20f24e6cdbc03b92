"""A grey picture -> the 28x28 image the model was trained on, made the way MNIST itself was made.

One path for every input: `to_model_input` takes a Sketchpad value, an upload, a photo or an array, so
the app, the API, the training scripts and the evaluation all give the model what it was trained on.
`handwriting.decoding` turns the input into grey (and refuses what it must); here:

1. find the ink whatever its polarity, against a background fitted as a plane (uneven photo lighting);
2. keep the ink's connected strokes, drop paper texture and specks, and in a photo the ruled line or box
   edge the crop caught below the character (`edge_lines`);
3. thin strokes that would be too fat at MNIST's scale, thicken ones that would vanish;
4. crop to the ink, scale its longest side to 20 px keeping the aspect ratio, and place it in 28x28 with
   its centre of mass at the centre, white ink on black, in [0, 1].

Everything that can go wrong with the input raises `InvalidImageError` with a message meant for the user.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from handwriting.decoding import WORK_SIDE, BlankImageError, InvalidImageError, to_grey

__all__ = ["BlankImageError", "InvalidImageError", "to_grey", "to_model_input", "ink_map", "clean_ink",
           "center_in_frame", "edge_lines", "is_digital_drawing", "grow", "resize", "stroke_width", "WORK_SIDE"]

SIZE = 28  # the model's input side
BOX = 20  # MNIST scales the ink's longest side to this many pixels
STROKE_SIDE = 4 * BOX  # the ink's longest side while stroke widths are normalised
MIN_CONTRAST = 0.10  # ink must differ from the paper by this much (0..1) to count as ink
FLAT_PAPER = 2 / 255  # a border this uniform is a digital canvas or a scan: no lighting gradient to fit
DIGITAL_BORDER = 0.8  # share of the border exactly the paper's shade that only a digital picture has
MIN_SPECK_FRACTION = 0.02  # connected ink smaller than this share of all ink is a speck
TARGET_STROKE = (1.5, 4.0)  # stroke width range in 28x28 pixels that MNIST digits have


def to_model_input(value) -> np.ndarray:
    """Any supported input -> float32 28 x 28 in [0, 1], white ink on black, as MNIST."""
    grey = _work_size(to_grey(value))
    return center_in_frame(clean_ink(ink_map(grey), drop_edge_lines=not is_digital_drawing(grey)))


# ---------------------------------------------------------------------------------------------------
# 1-2. Finding the ink


def _border(grey: np.ndarray) -> np.ndarray:
    """The pixels of the picture's outer twentieth: paper, whatever is drawn in the middle."""
    h, w = grey.shape
    edge = max(1, min(h, w) // 20)
    return np.concatenate([grey[:edge].ravel(), grey[-edge:].ravel(), grey[:, :edge].ravel(), grey[:, -edge:].ravel()])


def is_digital_drawing(grey: np.ndarray) -> bool:
    """Most of the border exactly one shade: a sketchpad, a drawing program's file or a clean scan, not a
    photo of paper, in which no two pixels are quite alike (sensor noise, texture, lighting). Strokes may
    run into the border; a small, clean photo's border can be nearly uniform, but not exactly."""
    border = _border(grey)
    (paper,) = _quantiles(border, (0.5,))
    return float(np.mean(border == paper)) >= DIGITAL_BORDER


def ink_map(grey: np.ndarray) -> np.ndarray:
    """float32 H x W: 0 where paper, up to 1 where the strongest ink is, whatever the polarity."""
    border = _border(grey)
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
    """np.quantile's (linear) quantiles from one partition: kept by hand, np.quantile's Python layer costs
    more than the work on these few thousand values, on every request."""
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

    None when too little paper is seen to fit one. Coordinates are centred on the image."""
    h, w = signed.shape
    step = max(1, int(np.sqrt(h * w / 4096)))  # a few thousand samples fit a plane as well as all
    sample = signed[::step, ::step]
    paper = sample < _otsu(sample) * 0.5
    n = int(paper.sum())
    if n < 16 or n == paper.size:
        return None
    ys, xs = np.nonzero(paper)
    design = np.column_stack([np.ones(n), ys * step - (h - 1) / 2, xs * step - (w - 1) / 2])
    (c0, cy, cx), _, rank, _ = np.linalg.lstsq(design, sample[paper].astype(np.float64), rcond=None)
    if rank < 3:  # the paper samples lie on a line: no plane to fit
        return None
    rows = (cy * (np.arange(h) - (h - 1) / 2)).astype(np.float32)
    cols = (c0 + cx * (np.arange(w) - (w - 1) / 2)).astype(np.float32)
    return rows[:, None] + cols[None, :]


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold: the level that best splits `values` into two classes (paper and ink).

    Kept by hand: no library the app installs has it; bincount counts the 64 bins with less overhead
    than np.histogram."""
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


def clean_ink(ink: np.ndarray, min_speck_fraction: float = MIN_SPECK_FRACTION, drop_edge_lines: bool = False) -> np.ndarray:
    """Keep the strokes: zero everything outside connected ink blobs of a reasonable size.

    A line of writing passes a smaller `min_speck_fraction`: an i's dot is under 2% of a word's ink.
    `drop_edge_lines` (photos of one character) also drops what `edge_lines` finds."""
    mask = ink > max(_otsu(ink), 0.2)
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        raise BlankImageError("No handwriting found: the image looks blank.")
    if count == 1:  # one connected drawing: nothing to drop
        strokes = mask
    else:
        areas = np.bincount(labels.ravel())[1:]
        keep = np.concatenate([[False], areas >= min_speck_fraction * areas.sum()])
        if drop_edge_lines:
            keep[1:] &= ~edge_lines(labels, areas)
        strokes = keep[labels]
    near_strokes = grow(strokes, 2)  # keep the anti-aliased rims
    soft = _clamp01((ink - 0.1) / 0.9)  # paper texture below 10% of the ink goes
    return (soft * near_strokes).astype(np.float32, copy=False)  # zero away from the strokes


def edge_lines(labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Which blobs (bool per label 1..n) are a ruled line or a box edge that a photo's crop caught, not
    part of the character: flat (at least 3x as wide as tall), cut by the picture's edge, and wholly below
    the largest blob, or a full-width line along the top edge above it.

    People write on ruled paper and in boxes; such a line squeezes the character into the top of the 28x28
    frame, or reads as part of it (a 2 over a line becomes a 3). No character of the 62 is drawn with a flat
    part standing apart below the rest (a 2's or an L's foot joins it unless the pen slipped), so little real
    is at risk below; above, only a line from edge to edge along the top goes (an i's dot is round, a T's bar
    joins its stem or stops short of the edges)."""
    h, w = labels.shape
    boxes = ndimage.find_objects(labels)
    main = int(np.argmax(areas))
    main_rows = boxes[main][0]
    lines = np.zeros(len(boxes), bool)
    for k, (rows, cols) in enumerate(boxes):
        if k == main or cols.stop - cols.start < 3 * (rows.stop - rows.start):
            continue
        cut_by_edge = cols.start == 0 or cols.stop == w or rows.stop == h
        below = rows.start >= main_rows.stop - 1 and cut_by_edge
        along_top = rows.stop <= main_rows.start + 1 and rows.start == 0 and cols.start == 0 and cols.stop == w
        lines[k] = below or along_top
    return lines


def grow(mask: np.ndarray, steps: int) -> np.ndarray:
    """Binary dilation by the 4-neighbour cross, `steps` times: ndimage.binary_dilation(mask,
    iterations=steps), kept by hand because scipy's call is several times slower on the request path."""
    for _ in range(steps):
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        mask = grown
    return mask


# ---------------------------------------------------------------------------------------------------
# 3-4. MNIST normalisation


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels: area over half the outline length (a long stroke is 2L by w)."""
    area = int(mask.sum())
    outline = area - int(ndimage.binary_erosion(mask).sum())  # outside the image counts as background
    return float(2.0 * area / max(outline, 1))


def _normalise_strokes(ink: np.ndarray) -> np.ndarray:
    """Bring the stroke width (ink at STROKE_SIDE scale) into MNIST's range.

    A fat brush on a small drawing would become a blob at 20 px; a hair-thin pen line in a big photo
    would fade away. Erosion and dilation by a disk, done exactly and fast with distance transforms."""
    factor = STROKE_SIDE / BOX
    mask = ink > 0.5
    if not mask.any():
        return ink
    width = stroke_width(mask) / factor  # in 28x28 pixels
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


def resize(img: np.ndarray, width: int, height: int) -> np.ndarray:
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
    crop = resize(crop, max(1, round(w * scale)), max(1, round(h * scale)))
    crop = _normalise_strokes(_clamp01(crop))
    h, w = crop.shape
    new_w, new_h = max(1, round(w * BOX / STROKE_SIDE)), max(1, round(h * BOX / STROKE_SIDE))
    small = np.maximum(resize(crop, new_w, new_h), 0.0)
    if small.max() <= 0:
        raise BlankImageError("No handwriting found: the strokes are too faint.")
    small = small / small.max()
    cy, cx = ndimage.center_of_mass(small)
    top = min(max(round(SIZE / 2 - cy), 0), SIZE - new_h)
    left = min(max(round(SIZE / 2 - cx), 0), SIZE - new_w)
    out = np.zeros((SIZE, SIZE), np.float32)
    out[top : top + new_h, left : left + new_w] = small
    return out


def _work_size(grey: np.ndarray) -> np.ndarray:
    """Reduce large inputs by area averaging: the analysis needs far fewer than 20 px per stroke."""
    h, w = grey.shape
    if max(h, w) <= WORK_SIDE:
        return grey
    scale = WORK_SIDE / max(h, w)
    return resize(grey, max(1, round(w * scale)), max(1, round(h * scale)))
