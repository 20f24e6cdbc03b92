"""A line of handwriting -> the pixel sets of its characters, left to right.

Works on the ink the single-character path finds (`preprocessing.ink_map` + `clean_ink`), binarised.
Coordinates along the line are de-slanted (x shifted by the writing's slant times the height), so a
slanted neighbour does not look like part of a character and a straight cut follows the slant.

Characters are connected strokes, with strokes stacked over each other (an i and its dot, a T's bar
and stem, the two strokes of a 4, a 5's bar) merged; too-wide groups get candidate cuts at ink minima
and close neighbours a candidate join, and the recogniser's confidence decides (`reading` scores them
in a second batched call, only where the first left a group unsure). The methods the evaluation
compares this with live in training/reading_methods.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from handwriting.preprocessing import stroke_width

MARK_SIDE = 0.4  # a component whose longest side is under this share of the line height is a mark (dot, accent)
ATTACH_GAP = 0.1  # a mark this close (in line heights) to a character's span is part of it (i's dot)
FLAT, FLAT_OVERLAP = 0.3, 0.2  # a stroke this flat (in line heights) joins a character it overhangs this much
MERGE_OVERLAP = 0.8  # strokes overlapping this share of the narrower one's width belong to one character
WIDE = 0.85  # groups wider than this many line heights may hold several characters
PIECE_WIDTH = 0.55  # a typical character's width, in line heights (digits and most letters)
WIDER_THAN_MEDIAN = 1.4  # ... and than this many times the line's median group
MAX_PIECES = 4  # a wide group is cut into at most this many characters
JOIN_GAP, JOIN_WIDTH = 0.15, 1.0  # neighbours this close, together this narrow, may be one character


@dataclass
class Line:
    """The binarised ink of a line: pixel coordinates, de-slanted x, component of each pixel."""

    ys: np.ndarray
    xs: np.ndarray
    sx: np.ndarray  # de-slanted x
    comp: np.ndarray  # component index (0-based) of each pixel
    count: int  # number of components
    height: float  # typical character height, in pixels
    slant: float  # dx per dy
    widths: np.ndarray  # per component, of its (upright) box
    heights: np.ndarray
    stroke: float  # mean stroke width
    members: list  # per component, the indices of its pixels

    def comp_range(self, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per component, the least and greatest de-slanted x (or of `values`, one per pixel)."""
        values = self.sx if values is None else values
        lo = np.array([values[m].min() for m in self.members], float)
        hi = np.array([values[m].max() for m in self.members], float)
        return lo, hi


@dataclass
class Piece:
    """One character candidate: parts (components, de-slanted left cut, right cut) joined."""

    parts: tuple
    children: list = field(default_factory=list)  # alternative cuttings: lists of Pieces
    with_next: "Piece | None" = None  # this piece joined with its right neighbour, when they may be one
    neighbour: "Piece | None" = None  # that right neighbour
    cut_plan: tuple | None = None  # (left, right, most pieces) of a group wide enough to hold several
    _chosen: np.ndarray | None = field(default=None, repr=False)

    @staticmethod
    def of(comps, left: float = -np.inf, right: float = np.inf) -> "Piece":
        return Piece(((frozenset(comps), float(left), float(right)),))

    def select(self, line: Line) -> np.ndarray:
        """Indices of the line's pixels that are this piece's (worked out once)."""
        if self._chosen is None:
            self._chosen = self._select(line)
        return self._chosen

    def _select(self, line: Line) -> np.ndarray:
        chosen = []
        for comps, left, right in self.parts:
            part = np.concatenate([line.members[c] for c in sorted(comps)])
            if np.isfinite(left):
                part = part[line.sx[part] >= left]
            if np.isfinite(right):
                part = part[line.sx[part] < right]
            chosen.append(part)
        return np.concatenate(chosen)

    def joined(self, other: "Piece") -> "Piece":
        return Piece(self.parts + other.parts)


def analyse(mask: np.ndarray) -> Line:
    """Label the strokes of a binary ink image and estimate the line height and slant."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    ys, xs = np.nonzero(labels)
    comp = labels[ys, xs] - 1
    slices = ndimage.find_objects(labels)
    heights = np.array([s[0].stop - s[0].start for s in slices], float)
    widths = np.array([s[1].stop - s[1].start for s in slices], float)
    areas = np.bincount(comp, minlength=count)
    big = areas >= 0.25 * areas.max()
    height = float(np.median(heights[big]))
    slant = _slant(ys.astype(float), xs.astype(float))
    sx = xs - slant * (ys - ys.mean())
    order = np.argsort(comp, kind="stable")
    members = np.split(order, np.cumsum(areas)[:-1])
    return Line(ys, xs, sx, comp, count, height, slant, widths, heights, stroke_width(mask), members)


def _slant(ys: np.ndarray, xs: np.ndarray) -> float:
    """The writing's slant (dx per dy): the shear that makes the ink's column profile sharpest.

    Vertical strokes sheared upright pile into few columns, so the sum of squared column counts peaks
    at the true slant (the classic deslanting criterion); a digit's own diagonals do not fool it.
    Coarse steps of 0.1, then 0.05 either side of the best, on at most ~5,000 pixels."""
    step = max(1, ys.size // 5000)
    ys, xs = ys[::step], xs[::step]
    dy = ys - ys.mean()

    def sharpness(slope: float) -> float:
        cols = np.round(xs - slope * dy).astype(int)
        counts = np.bincount(cols - cols.min()).astype(float)
        return float(counts @ counts)

    best = max(np.round(np.arange(-0.6, 0.61, 0.1), 2), key=lambda s: (sharpness(s), -abs(s)))
    return float(max((best - 0.05, best, best + 0.05), key=lambda s: (sharpness(s), -abs(s))))


def _merge_groups(line: Line) -> list[Piece]:
    """Components -> groups: marks join the body under/over them, stacked strokes merge."""
    lo, hi = line.comp_range()
    side = np.maximum(line.widths, line.heights)
    is_mark = side < MARK_SIDE * line.height
    # a flat stroke (a 5's top bar drawn apart) joins the character it overhangs most
    is_flat = ~is_mark & (line.heights < FLAT * line.height) & (line.widths < line.height)
    bodies = sorted((i for i in range(line.count) if not is_mark[i] and not is_flat[i]), key=lambda i: lo[i])
    groups: list[list[int]] = []
    spans: list[list[float]] = []
    for i in bodies:
        if spans:
            g_lo, g_hi = spans[-1]
            overlap = min(g_hi, hi[i]) - max(g_lo, lo[i])
            if overlap >= MERGE_OVERLAP * min(g_hi - g_lo, hi[i] - lo[i]):
                groups[-1].append(i)
                spans[-1] = [min(g_lo, lo[i]), max(g_hi, hi[i])]
                continue
        groups.append([i])
        spans.append([lo[i], hi[i]])
    top, bottom = line.comp_range(line.ys)
    for i in np.flatnonzero(is_flat):
        overlaps = [min(s[1], hi[i]) - max(s[0], lo[i]) for s in spans]
        best = int(np.argmax(overlaps)) if spans else -1
        if spans:
            g_top, g_bottom = min(top[j] for j in groups[best]), max(bottom[j] for j in groups[best])
            above = bottom[i] < (g_top + g_bottom) / 2  # over the character's upper half, as a 5's bar
        if spans and (overlaps[best] >= FLAT_OVERLAP * (hi[i] - lo[i])
                      or (above and overlaps[best] >= -ATTACH_GAP * line.height)):
            groups[best].append(i)
        else:
            groups.append([i])
            spans.append([lo[i], hi[i]])
    if not groups:  # only marks: each is its own group (the caller decides whether that is a character)
        return [Piece.of([i]) for i in np.argsort(lo)]
    loose: list[list[int]] = []  # marks over no character: a faint character broken into bits, or specks
    for i in sorted(np.flatnonzero(is_mark), key=lambda i: lo[i]):
        centre = (lo[i] + hi[i]) / 2
        gaps = [max(s[0] - centre, centre - s[1], 0.0) for s in spans]
        best = int(np.argmin(gaps))
        if gaps[best] <= ATTACH_GAP * line.height:  # a dot or accent over a character
            groups[best].append(i)
        elif loose and lo[i] - max(hi[j] for j in loose[-1]) <= ATTACH_GAP * line.height:
            loose[-1].append(i)
        else:
            loose.append([i])
    found = [(min(lo[j] for j in g), g) for g in groups + loose]  # the caller drops loose specks
    return [Piece.of(g) for _, g in sorted(found, key=lambda t: t[0])]


def _profile(line: Line, chosen: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, float]:
    """Ink per de-slanted column of a piece, and the column the profile starts at."""
    start = np.floor(lo)
    cols = (line.sx[chosen] - start).astype(int)
    return np.bincount(cols, minlength=int(np.ceil(hi - start)) + 1).astype(float), float(start)


def candidate_cuts(profile: np.ndarray, start: float, k: int, tries: int = 3) -> list[list[float]]:
    """Candidate cuttings of a profile into k parts: each cut at a low column near its even share."""
    width = len(profile)
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    options = []
    for shift in range(tries):
        cuts = []
        for j in range(1, k):
            centre = width * j / k
            lo, hi = int(centre - 0.25 * width / k), int(np.ceil(centre + 0.25 * width / k))
            window = smooth[max(lo, 1) : min(hi, width - 1)]
            if not window.size:
                break
            order = np.argsort(window, kind="stable")
            pick = order[min(shift, len(order) - 1)]
            cuts.append(start + max(lo, 1) + pick + 0.5)
        if len(cuts) == k - 1 and cuts not in options:
            options.append(cuts)
    return options


def cut_at(piece: Piece, cuts: list[float]) -> list[Piece]:
    """A single-part piece cut at de-slanted columns."""
    ((comps, left, right),) = piece.parts
    edges = [left, *cuts, right]
    return [Piece.of(comps, a, b) for a, b in zip(edges[:-1], edges[1:])]


def components(line: Line) -> list[Piece]:
    """Merged component groups; each wide one carries its candidate cuttings for the recogniser.

    Wide means wider than WIDE line heights and than WIDER_THAN_MEDIAN times the line's median group:
    one person's characters are of a width, two touching ones are twice that."""
    pieces = _merge_groups(line)
    spans = []
    for piece in pieces:
        chosen = piece.select(line)
        spans.append((chosen, line.sx[chosen].min(), line.sx[chosen].max() + 1))
    median = float(np.median([hi - lo for _, lo, hi in spans]))
    if len(spans) < 3:  # one or two groups: their own width says nothing about a character's
        median = PIECE_WIDTH * line.height
    for i in range(len(pieces) - 1):  # neighbours close enough to be two strokes of one character
        (_, lo, hi), (_, lo2, hi2) = spans[i], spans[i + 1]
        width = max(hi, hi2) - lo
        if lo2 - hi < JOIN_GAP * line.height and width <= min(JOIN_WIDTH * line.height, WIDER_THAN_MEDIAN * median):
            pieces[i].with_next, pieces[i].neighbour = pieces[i].joined(pieces[i + 1]), pieces[i + 1]
    for piece, (chosen, lo, hi) in zip(pieces, spans):
        width = hi - lo
        if width > WIDE * line.height and width > WIDER_THAN_MEDIAN * median:
            most = min(MAX_PIECES, max(2, int(np.ceil(width / min(median, PIECE_WIDTH * line.height)))))
            piece.cut_plan = (lo, hi, most)
    return pieces


def cuttings(piece: Piece, line: Line) -> list[list[Piece]]:
    """A wide group's candidate cuttings into 2..most characters, worked out when first asked for."""
    if piece.cut_plan is not None and not piece.children:
        lo, hi, most = piece.cut_plan
        profile, start = _profile(line, piece.select(line), lo, hi)
        for k in range(2, most + 1):
            for cuts in candidate_cuts(profile, start, k, tries=3 if k == 2 else 1):
                piece.children.append(cut_at(piece, cuts))
    return piece.children
