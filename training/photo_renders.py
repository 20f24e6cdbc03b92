"""Training characters as photographs of pen on paper, or drawn on the sketchpad, through the app's upload path.

EMNIST's characters are scans: thick, soft, clean strokes. A photo reaches the model differently: thin pen
strokes on grey, unevenly lit paper, blurred, with specks of dirt that the preprocessing keeps. Here each
training character (white on black, 28x28) is re-made as such a photo and sent through
`handwriting.preprocessing.to_model_input`, the path every upload takes, so the "?" heads can learn that a
photo of a character is still a character, and be calibrated on photos too.

The same holds the other way round for the sketchpad: the doodles the heads learn "none" from are crisp
strokes of one pen width (`training.doodles`), EMNIST's characters soft scans. A head shown only those learns
"crisp strokes = doodle", and refuses characters drawn on the page or photographed with a fine pen. So the
characters are also re-drawn as such strokes (`canvas_of`), and the doodles photographed, so that neither
look belongs to one side.

Never made from evaluation data: the callers pass EMNIST's training part (to learn from) or its validation
tenth (to calibrate on). hw62_dev and USPS stay evaluation only.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from handwriting.preprocessing import InvalidImageError, to_model_input

UPSCALE = 4  # strokes are thinned at 112 px, then the picture is shrunk to a photo crop's size


def photo_of(char: np.ndarray, rng: np.random.Generator, ruled: bool = False) -> np.ndarray:
    """One 28x28 character (uint8, white ink on black) as a small grey photo (uint8 H x W, dark ink on paper).

    `ruled`: written on ruled paper, the printed line under the character caught by the crop (`ruled_line`)."""
    big = np.asarray(Image.fromarray(char).resize((28 * UPSCALE,) * 2, Image.Resampling.BILINEAR), np.float32) / 255
    thin = int(rng.integers(0, 9))  # pens draw thinner lines than the scans' strokes
    if thin:
        thinner = ndimage.grey_erosion(big, size=(thin, thin))
        big = thinner if (thinner > 0.5).sum() > 0.25 * (big > 0.5).sum() else big
    rows, cols = np.nonzero(big > 0.3)
    if len(rows) == 0:
        raise InvalidImageError("no ink")
    margin = rng.integers(2, 14, size=4) * UPSCALE // 2
    top, left = max(rows.min() - margin[0], 0), max(cols.min() - margin[1], 0)
    bottom, right = min(rows.max() + margin[2], big.shape[0] - 1), min(cols.max() + margin[3], big.shape[1] - 1)
    crop = big[top:bottom + 1, left:right + 1]
    height = int(rng.integers(20, 61))
    width = max(8, int(round(crop.shape[1] * height / crop.shape[0] * rng.uniform(0.85, 1.2))))
    ink = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((width, height), Image.Resampling.BOX),
                     np.float32) / 255
    ink = ndimage.gaussian_filter(ink, rng.uniform(0.2, 1.2))
    paper = rng.uniform(150, 235) + rng.uniform(-20, 20) * np.linspace(-1, 1, width)[None, :] \
        + rng.uniform(-20, 20) * np.linspace(-1, 1, height)[:, None]
    pen = rng.uniform(10, 120)
    photo = paper - (paper - pen) * np.clip(ink * rng.uniform(0.7, 1.0), 0, 1)
    if ruled:
        photo = ruled_line(photo, ink, paper, rng)
    for _ in range(int(rng.poisson(0.6))):  # specks of dirt, dust or a neighbour's stroke end
        r, c = rng.integers(0, height), rng.integers(0, width)
        rr, cc = np.ogrid[:height, :width]
        photo[(rr - r) ** 2 + (cc - c) ** 2 <= rng.uniform(0.3, 2.5)] = pen + rng.uniform(0, 60)
    photo += rng.normal(0, rng.uniform(1, 6), photo.shape)
    return np.clip(np.rint(photo), 0, 255).astype(np.uint8)


def ruled_line(photo: np.ndarray, ink: np.ndarray, paper: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The printed line of ruled paper under a written character: 1-2 px, paler than the pen, from a point
    between the picture's left edge and the character to its right edge (or the mirror), somewhere between
    the character's foot (touching it at times) and the picture's bottom edge."""
    height, width = photo.shape
    inked_rows = np.nonzero((ink > 0.3 * ink.max()).any(axis=1))[0] if ink.max() > 0 else [0]
    foot = int(inked_rows[-1])
    row = int(rng.integers(max(foot - 1, 0), height))
    thick = int(rng.integers(1, 3))
    start = int(rng.integers(0, width // 3)) if rng.random() < 0.4 else 0
    cols = slice(start, width) if rng.random() < 0.5 else slice(0, width - start)
    line = photo.copy()
    line[row:row + thick, cols] = np.minimum(line[row:row + thick, cols], paper[row:row + thick, cols] * rng.uniform(0.45, 0.8))
    return line


def canvas_of(char: np.ndarray, rng: np.random.Generator, side: int = 28 * UPSCALE,
              pen_change: tuple[int, int] = (-2, 4)) -> np.ndarray:
    """One 28x28 character re-drawn as crisp strokes of one pen width on a white pad (uint8 `side` px; 112 is
    what a drawing on the 280 px sketchpad becomes at the preprocessing's working size): how a character
    drawn on the page looks, and how the doodles the "none" unit learns from are drawn. The pen is up to
    `pen_change` pixels thinner or thicker than the scan's strokes."""
    big = np.asarray(Image.fromarray(char).resize((side, side), Image.Resampling.BILINEAR))
    strokes = big > rng.uniform(60, 160)
    change = int(rng.integers(*pen_change))
    if change > 0:
        strokes = ndimage.binary_dilation(strokes, iterations=change)
    elif change < 0:
        thinner = ndimage.binary_erosion(strokes, iterations=-change)
        strokes = thinner if thinner.sum() > 0.3 * strokes.sum() else strokes
    return np.where(strokes, 0, 255).astype(np.uint8)


STYLES = {"photo": photo_of, "canvas": canvas_of, "ruled": lambda char, rng: photo_of(char, rng, ruled=True)}


def restyled(chars: np.ndarray, style: str = "photo", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each character (or doodle) re-made in `style` ("photo": photographed pen on paper; "ruled": the same
    on ruled paper; "canvas": drawn on the sketchpad) and normalised by the upload path: (uint8 N x 28 x 28, kept mask). Pictures the
    preprocessing refuses (too faint to find) are zeros and not kept."""
    make = STYLES[style]
    rng = np.random.default_rng(seed)
    out = np.zeros((len(chars), 28, 28), np.uint8)
    kept = np.zeros(len(chars), bool)
    for i, char in enumerate(chars):
        try:
            out[i] = np.clip(np.rint(to_model_input(make(char, rng)) * 255), 0, 255).astype(np.uint8)
            kept[i] = True
        except InvalidImageError:
            pass
    return out, kept


def _restyle_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    return restyled(*args)


def restyled_parallel(chars: np.ndarray, style: str = "photo", seed: int = 0, workers: int = 2, chunk: int = 2000):
    """`restyled` in `workers` processes (each chunk seeded from `seed` and its position)."""
    from multiprocessing import Pool

    pieces = [(chars[i:i + chunk], style, seed * 100003 + i) for i in range(0, len(chars), chunk)]
    with Pool(workers) as pool:
        results = pool.map(_restyle_chunk, pieces)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def restyled_mix(images: np.ndarray, labels: np.ndarray, pool: np.ndarray, count: int, rng: np.random.Generator,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """About `count` extra training copies drawn from `images[pool]`, re-made in the looks people send: a quarter
    photographed, a quarter photographed on ruled paper, half drawn on the sketchpad. Returns (images, their labels),
    without the pictures the preprocessing could not find."""
    copies_x, copies_y = [], []
    for i, style in enumerate(("photo", "ruled", "canvas")):
        pick = rng.choice(pool, count // 2 if style == "canvas" else count // 4, replace=False)
        x, kept = restyled_parallel(images[pick], style, seed=seed * 10 + i)
        copies_x.append(x[kept])
        copies_y.append(labels[pick][kept])
    return np.concatenate(copies_x), np.concatenate(copies_y)

