"""Drawings that are none of the characters: generated doodles, the negatives of the "?" answer.

    python -m training.doodles --sheet runs/doodles.png     # look at every family

Each family draws strokes (polylines in the unit square) the way a hand on the sketchpad would: wobbly,
of uneven size and stroke width; `render` paints them dark on white and `doodle_images` passes them through
`handwriting.preprocessing.to_model_input`, the one path every input takes, so a doodle reaches the model
exactly as a user's would.

The families come in two groups that never mix: TRAIN_FAMILIES are what the "none" unit learns from and
what its thresholds are calibrated on (MORE_TRAIN_FAMILIES, everyday objects, join them on request);
EVAL_FAMILIES (the issue's scribbles, faces, stars, spirals, hatching, ticks and arrows) are only ever used
to measure refusal on shapes the models never saw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

Stroke = np.ndarray  # K x 2 points (x, y) in [0, 1]


def _wobble(points: np.ndarray, rng, amount: float = 0.01) -> np.ndarray:
    """Hand tremor: a smooth random offset along the stroke."""
    n = len(points)
    noise = rng.normal(0, amount, (n, 2))
    if n > 4:
        kernel = np.ones(3) / 3
        noise = np.stack([np.convolve(noise[:, k], kernel, mode="same") for k in range(2)], 1)
    return points + noise


def _segment(a, b, n: int = 8) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return np.asarray(a) * (1 - t) + np.asarray(b) * t


def _polyline(points, n: int = 8) -> Stroke:
    """Straight segments through `points` in turn (a closed outline repeats its first point at the end)."""
    points = np.asarray(points, float)
    return np.concatenate([_segment(a, b, n) for a, b in zip(points[:-1], points[1:])])


def ellipse(cx, cy, rx, ry, start=0.0, end=2 * np.pi, n: int = 40) -> np.ndarray:
    """n points (x, y) on an ellipse from angle `start` to `end` (also the synthetic feedback's curves)."""
    t = np.linspace(start, end, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _bezier(control: np.ndarray, n: int = 40) -> np.ndarray:
    """A Bezier curve through (any number of) control points (de Casteljau)."""
    t = np.linspace(0, 1, n)[:, None, None]
    pts = np.repeat(control[None], n, 0).astype(float)
    while pts.shape[1] > 1:
        pts = pts[:, :-1] * (1 - t) + pts[:, 1:] * t
    return pts[:, 0]


# ---- training families -------------------------------------------------------------------------------

def curves(rng) -> list[Stroke]:
    """Two to four free Bezier curves that cross each other."""
    return [_bezier(rng.random((rng.integers(4, 7), 2))) for _ in range(rng.integers(2, 5))]


def cloud(rng) -> list[Stroke]:
    """A bumpy closed outline (scalloped circle)."""
    bumps, t = rng.integers(5, 10), np.linspace(0, 2 * np.pi, 160)
    r = 0.32 + 0.07 * np.abs(np.sin(bumps * t / 2 + rng.random() * 3))
    return [np.stack([0.5 + r * np.cos(t) * rng.uniform(1.0, 1.4), 0.5 + r * np.sin(t)], 1)]


def heart(rng) -> list[Stroke]:
    t = np.linspace(0, 2 * np.pi, 80)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([0.5 + x / 36, 0.5 + y / 36], 1)]


def sun(rng) -> list[Stroke]:
    """A small circle with rays all round."""
    r = rng.uniform(0.12, 0.2)
    strokes = [ellipse(0.5, 0.5, r, r)]
    for a in np.linspace(0, 2 * np.pi, rng.integers(6, 13), endpoint=False) + rng.random():
        strokes.append(_segment((0.5 + (r + 0.05) * np.cos(a), 0.5 + (r + 0.05) * np.sin(a)),
                                (0.5 + 0.45 * np.cos(a), 0.5 + 0.45 * np.sin(a))))
    return strokes


def house(rng) -> list[Stroke]:
    """A box with a roof, and sometimes a door or a window."""
    left, right, top, bottom = 0.2, 0.8, rng.uniform(0.4, 0.5), 0.9
    strokes = [np.array([(left, top), (left, bottom), (right, bottom), (right, top), (left, top)]),
               np.array([(left - 0.05, top), (0.5, 0.1), (right + 0.05, top)])]
    if rng.random() < 0.7:
        strokes.append(np.array([(0.42, bottom), (0.42, 0.7), (0.58, 0.7), (0.58, bottom)]))
    if rng.random() < 0.5:
        strokes.append(np.array([(0.25, 0.55), (0.35, 0.55), (0.35, 0.65), (0.25, 0.65), (0.25, 0.55)]))
    return [_polyline(s) for s in strokes]


def grid(rng) -> list[Stroke]:
    """A noughts-and-crosses grid or a lattice: three or more lines each way."""
    k = rng.integers(2, 5)
    pos = np.linspace(0.15, 0.85, k + 2)[1:-1] if k > 2 else np.array([0.35, 0.65])
    strokes = [_segment((p, 0.05), (p + rng.normal(0, 0.03), 0.95)) for p in pos]
    strokes += [_segment((0.05, p), (0.95, p + rng.normal(0, 0.03))) for p in pos]
    if k == 2 and rng.random() < 0.5:  # a tic-tac-toe position
        strokes.append(ellipse(0.5, 0.5, 0.1, 0.1))
    return strokes


def waves(rng) -> list[Stroke]:
    """Two to four parallel wavy lines."""
    t = np.linspace(0.05, 0.95, 60)
    f, phase = rng.uniform(2, 5), rng.random() * 6
    return [np.stack([t, y + 0.06 * np.sin(2 * np.pi * f * t + phase)], 1)
            for y in np.linspace(0.25, 0.75, rng.integers(2, 5))]


def dots(rng) -> list[Stroke]:
    """A handful of dots and tiny circles scattered about."""
    strokes = []
    for _ in range(rng.integers(5, 12)):
        cx, cy = rng.uniform(0.1, 0.9, 2)
        r = rng.uniform(0.005, 0.04)
        strokes.append(ellipse(cx, cy, r, r, n=12))
    return strokes


def flower(rng) -> list[Stroke]:
    """Petals round a centre, often on a stem."""
    petals, t = rng.integers(4, 8), np.linspace(0, 2 * np.pi, 200)
    r = 0.25 * np.abs(np.cos(petals * t / 2))
    strokes = [np.stack([0.5 + r * np.cos(t), 0.35 + r * np.sin(t)], 1)]
    if rng.random() < 0.6:
        strokes.append(_bezier(np.array([(0.5, 0.55), (0.45 + rng.random() * 0.1, 0.75), (0.5, 0.95)])))
    return strokes


def crossed(rng) -> list[Stroke]:
    """A circle or box struck through with an X (a 'no' sign)."""
    if rng.random() < 0.5:
        outline = ellipse(0.5, 0.5, 0.4, 0.4)
    else:
        outline = _polyline([(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9), (0.1, 0.1)])
    return [outline, _segment((0.2, 0.2), (0.8, 0.8)), _segment((0.8, 0.2), (0.2, 0.8))]


def blob(rng) -> list[Stroke]:
    """A filled-in irregular shape: a dense coil of strokes inside a lumpy outline."""
    t = np.linspace(0, 2 * np.pi, 9, endpoint=False)
    r = rng.uniform(0.2, 0.42, len(t))
    strokes = []
    for shrink in np.linspace(1.0, 0.1, 8):
        strokes.append(np.stack([0.5 + shrink * r * np.cos(t), 0.5 + shrink * r * np.sin(t)], 1)[np.r_[0:9, 0]])
    return [_polyline(s, 5) for s in strokes]


def lines(rng) -> list[Stroke]:
    """Four to seven straight strokes at random."""
    return [_segment(rng.random(2), rng.random(2)) for _ in range(rng.integers(4, 8))]


def polygons(rng) -> list[Stroke]:
    """Two or three overlapping outlines of random triangles and quadrilaterals."""
    strokes = []
    for _ in range(rng.integers(2, 4)):
        pts = rng.uniform(0.05, 0.95, (rng.integers(3, 5), 2))
        pts = np.concatenate([pts, pts[:1]])
        strokes.append(_polyline(pts))
    return strokes


def concentric(rng) -> list[Stroke]:
    """A target: three or more nested rings (or nested boxes)."""
    k = rng.integers(3, 6)
    if rng.random() < 0.6:
        return [ellipse(0.5, 0.5, r, r) for r in np.linspace(0.1, 0.45, k)]
    return [_polyline([(0.5 - r, 0.5 - r), (0.5 + r, 0.5 - r), (0.5 + r, 0.5 + r), (0.5 - r, 0.5 + r), (0.5 - r, 0.5 - r)])
            for r in np.linspace(0.1, 0.45, k)]


def stick_figure(rng) -> list[Stroke]:
    """A head, a body, two arms, two legs."""
    hip = (0.5, rng.uniform(0.6, 0.7))
    return [ellipse(0.5, 0.15, 0.1, 0.1), _segment((0.5, 0.25), hip),
            _segment((0.2, rng.uniform(0.3, 0.5)), (0.5, 0.38)), _segment((0.5, 0.38), (0.8, rng.uniform(0.3, 0.5))),
            _segment(hip, (rng.uniform(0.2, 0.35), 0.95)), _segment(hip, (rng.uniform(0.65, 0.8), 0.95))]


def tree(rng) -> list[Stroke]:
    """A trunk under a lumpy crown, sometimes with a line of ground."""
    t, bumps = np.linspace(0, 2 * np.pi, 120), rng.integers(5, 9)
    r = 0.28 + 0.05 * np.sin(bumps * t)
    strokes = [np.stack([0.5 + r * np.cos(t), 0.35 + r * 0.9 * np.sin(t)], 1),
               _segment((0.45, 0.6), (0.45, 0.95)), _segment((0.55, 0.6), (0.55, 0.95))]
    if rng.random() < 0.5:
        strokes.append(_segment((0.05, 0.95), (0.95, 0.95)))
    return strokes


def fish(rng) -> list[Stroke]:
    """An oval body with a triangular tail and an eye."""
    body = ellipse(0.42, 0.5, 0.3, rng.uniform(0.15, 0.22), 0.3, 2 * np.pi - 0.3)
    tail = np.array([body[-1], (0.95, 0.3), (0.95, 0.7), body[0]])
    return [body, _polyline(tail), ellipse(0.27, 0.45, 0.02, 0.02, n=8)]


# ---- more training families (opt-in: `refusal_head train --doodles-from train+`) ------------------------
# Objects drawn from outlines, none of them a character's shape in any task.

def envelope(rng) -> list[Stroke]:
    """A letter's envelope: a box with the flap's V from the top corners."""
    top, bottom, depth = rng.uniform(0.2, 0.3), rng.uniform(0.7, 0.8), rng.uniform(0.5, 0.65)
    return [_polyline([(0.08, top), (0.92, top), (0.92, bottom), (0.08, bottom), (0.08, top)]),
            _polyline([(0.08, top), (0.5, depth), (0.92, top)])]


def key(rng) -> list[Stroke]:
    """A ring on the left, a shaft to the right with two or three teeth under its end."""
    r, y = rng.uniform(0.12, 0.18), 0.5
    strokes = [ellipse(0.08 + r, y, r, r), _segment((0.08 + 2 * r, y), (0.95, y))]
    for x in np.linspace(0.95, 0.72, rng.integers(2, 4)):
        strokes.append(_segment((x, y), (x, y + rng.uniform(0.1, 0.18))))
    return strokes


def car(rng) -> list[Stroke]:
    """A car from the side: body and cabin in one outline, two wheels."""
    roof = rng.uniform(0.2, 0.3)
    body = _polyline([(0.05, 0.7), (0.05, 0.5), (0.25, 0.48), (0.35, roof), (0.68, roof), (0.78, 0.48),
                      (0.95, 0.52), (0.95, 0.7), (0.05, 0.7)])
    w = rng.uniform(0.08, 0.11)
    return [body, ellipse(0.27, 0.72, w, w), ellipse(0.73, 0.72, w, w)]


def boat(rng) -> list[Stroke]:
    """A hull, a mast and a triangular sail, often on a wavy line of water."""
    strokes = [_polyline([(0.05, 0.65), (0.95, 0.65), (0.78, 0.85), (0.22, 0.85), (0.05, 0.65)]),
               _segment((0.5, 0.65), (0.5, 0.08)), _polyline([(0.5, 0.1), (0.85, 0.58), (0.5, 0.58)])]
    if rng.random() < 0.6:
        t = np.linspace(0.0, 1.0, 50)
        strokes.append(np.stack([t, 0.93 + 0.025 * np.sin(2 * np.pi * 4 * t)], 1))
    return strokes


def umbrella(rng) -> list[Stroke]:
    """An open umbrella: the canopy's dome with a scalloped rim, a handle with its hook."""
    strokes = [ellipse(0.5, 0.5, 0.45, 0.38, np.pi, 2 * np.pi)]
    for k in range(4):  # the rim: four small arcs between the ribs' ends
        x0 = 0.05 + k * 0.225
        strokes.append(ellipse(x0 + 0.1125, 0.5, 0.1125, 0.06, np.pi, 2 * np.pi, n=12)[::-1])
    strokes.append(np.concatenate([_segment((0.5, 0.45), (0.5, 0.85)),
                                   ellipse(0.42, 0.85, 0.08, 0.08, 0, np.pi, n=12)]))
    return strokes


def kite(rng) -> list[Stroke]:
    """A diamond with its two spars and a long wavy tail with bows."""
    cx, cy = 0.4, 0.32
    strokes = [_polyline([(cx, 0.02), (cx + 0.25, cy), (cx, 0.7), (cx - 0.25, cy), (cx, 0.02)]),
               _segment((cx, 0.02), (cx, 0.7)), _segment((cx - 0.25, cy), (cx + 0.25, cy))]
    t = np.linspace(0, 1, 60)
    strokes.append(np.stack([cx + 0.5 * t, 0.7 + 0.28 * t + 0.04 * np.sin(2 * np.pi * 3 * t)], 1))
    for u in (0.35, 0.7):
        x, y = cx + 0.5 * u, 0.7 + 0.28 * u
        strokes.append(_polyline([(x - 0.05, y - 0.04), (x + 0.05, y + 0.04), (x + 0.05, y - 0.04), (x - 0.05, y + 0.04),
                                  (x - 0.05, y - 0.04)]))
    return strokes


def pencil(rng) -> list[Stroke]:
    """A pencil lying across: a long body, a sharpened tip, the lead, an eraser band."""
    a, b = rng.uniform(0.4, 0.46), rng.uniform(0.54, 0.6)
    return [_polyline([(0.2, a), (0.8, a), (0.97, (a + b) / 2), (0.8, b), (0.2, b), (0.03, b), (0.03, a), (0.2, a)]),
            _segment((0.2, a), (0.2, b)), _segment((0.8, a), (0.8, b)), _segment((0.91, a + 0.035), (0.91, b - 0.035))]


# ---- evaluation families (never trained on, never used to set a threshold) ---------------------------

def scribble(rng) -> list[Stroke]:
    """One long continuous back-and-forth scrawl."""
    n = rng.integers(8, 20)
    pts = np.cumsum(rng.normal(0, 0.25, (n, 2)), 0)
    pts = (pts - pts.min(0)) / np.maximum(pts.max(0) - pts.min(0), 1e-6)
    return [np.concatenate([_bezier(pts[i : i + 3], 12) for i in range(0, n - 2, 2)])]


def face(rng) -> list[Stroke]:
    """A smiley (or frowny) face: outline, two eyes, a mouth."""
    sad = rng.random() < 0.25
    strokes = [ellipse(0.5, 0.5, 0.42, rng.uniform(0.38, 0.46))]
    for ex in (0.36, 0.64):
        r = rng.uniform(0.02, 0.05)
        strokes.append(ellipse(ex, 0.38, r, r, n=12))
    a0, a1 = (np.pi * 1.15, np.pi * 1.85) if sad else (np.pi * 0.15, np.pi * 0.85)
    strokes.append(ellipse(0.5, 0.78 if sad else 0.5, 0.22, 0.2, a0, a1, n=20))
    return strokes


def star(rng) -> list[Stroke]:
    """A five-pointed star drawn in one stroke (pentagram) or its outline."""
    a = -np.pi / 2 + np.arange(5) * 2 * np.pi / 5 + rng.normal(0, 0.05)
    outer = np.stack([0.5 + 0.45 * np.cos(a), 0.52 + 0.45 * np.sin(a)], 1)
    if rng.random() < 0.5:
        pts = outer[[0, 2, 4, 1, 3, 0]]
    else:
        inner = np.stack([0.5 + 0.18 * np.cos(a + np.pi / 5), 0.52 + 0.18 * np.sin(a + np.pi / 5)], 1)
        pts = np.concatenate([np.stack([outer, inner], 1).reshape(-1, 2), outer[:1]])
    return [_polyline(pts)]


def spiral(rng) -> list[Stroke]:
    turns = rng.uniform(2.0, 4.0)
    t = np.linspace(0, 2 * np.pi * turns, 200)
    r = 0.45 * t / t[-1]
    sign = rng.choice([-1, 1])
    return [np.stack([0.5 + r * np.cos(sign * t), 0.5 + r * np.sin(sign * t)], 1)]


def hatching(rng) -> list[Stroke]:
    """Five or more parallel diagonal strokes, sometimes crossed by a second set."""
    strokes = []
    for angle in ([rng.uniform(0.5, 1.0)] + ([rng.uniform(-1.0, -0.5)] if rng.random() < 0.5 else [])):
        d = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-d[1], d[0]])
        for off in np.linspace(-0.35, 0.35, rng.integers(5, 9)):
            c = 0.5 + off * normal
            strokes.append(_segment(c - 0.35 * d, c + 0.35 * d))
    return strokes


def tick(rng) -> list[Stroke]:
    """A check mark: a short stroke down, a long one up."""
    bottom = np.array([rng.uniform(0.3, 0.45), rng.uniform(0.8, 0.9)])
    return [np.concatenate([_segment((0.1, rng.uniform(0.45, 0.6)), bottom),
                            _segment(bottom, (rng.uniform(0.85, 0.95), rng.uniform(0.05, 0.15)))])]


def arrow(rng) -> list[Stroke]:
    """A straight or curved arrow in any direction, with its head."""
    a = rng.uniform(0, 2 * np.pi)
    d = np.array([np.cos(a), np.sin(a)])
    tail, head = 0.5 - 0.42 * d, 0.5 + 0.42 * d
    shaft = _segment(tail, head) if rng.random() < 0.6 else _bezier(
        np.array([tail, 0.5 + 0.2 * np.array([-d[1], d[0]]), head]))
    strokes = [shaft]
    for side in (-1, 1):
        b = a + np.pi + side * 0.5
        strokes.append(_segment(head, head + 0.22 * np.array([np.cos(b), np.sin(b)])))
    return strokes


TRAIN_FAMILIES = {f.__name__: f for f in (curves, cloud, heart, sun, house, grid, waves, dots, flower, crossed, blob, lines,
                                           polygons, concentric, stick_figure, tree, fish)}
MORE_TRAIN_FAMILIES = {f.__name__: f for f in (envelope, key, car, boat, umbrella, kite, pencil)}
EVAL_FAMILIES = {f.__name__: f for f in (scribble, face, star, spiral, hatching, tick, arrow)}
FAMILIES = {**TRAIN_FAMILIES, **MORE_TRAIN_FAMILIES, **EVAL_FAMILIES}


def _placed(strokes: list[Stroke], rng) -> list[Stroke]:
    """The family's drawing squashed, turned and wobbled a little, as no two hands draw it alike."""
    angle = rng.normal(0, 0.25)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    scale = rng.uniform(0.75, 1.25, 2)
    return [_wobble((s - 0.5) @ rot.T * scale + 0.5, rng, rng.uniform(0.002, 0.012)) for s in strokes]


def render(strokes: list[Stroke], rng, side: int = 280) -> np.ndarray:
    """Strokes painted dark on white at a sketchpad's size, with a random pen width."""
    img = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(img)
    width = int(rng.integers(side // 60, side // 18))
    margin = side * 0.1
    for s in strokes:
        pts = [(float(x), float(y)) for x, y in margin + s * (side - 2 * margin)]
        draw.line(pts, fill=0, width=width, joint="curve")
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    return np.asarray(img)


def doodle_images(families: dict, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` doodles (uint8 N x 28 x 28, white on black, through `to_model_input`) spread evenly over
    `families`, and each one's family index (the order of `families`)."""
    from handwriting.preprocessing import InvalidImageError, to_model_input

    rng = np.random.default_rng(seed)
    makers = list(families.values())
    out, fam = [], []
    for k in range(n):
        which = k % len(makers)
        try:
            x = to_model_input(render(_placed(makers[which](rng), rng), rng))
        except InvalidImageError:
            continue
        out.append(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8))
        fam.append(which)
    return np.stack(out), np.array(fam)


def contact_sheet(path: Path, per_family: int = 12, seed: int = 0) -> None:
    """A PNG: one row per family (training families first), as the model sees them."""
    rows = []
    for name, maker in FAMILIES.items():
        x, _ = doodle_images({name: maker}, per_family, seed)
        row = np.full((30, 30 * per_family), 60, np.uint8)
        for j, img in enumerate(x):
            row[1:29, 30 * j + 1 : 30 * j + 29] = img
        rows.append(row)
    Image.fromarray(np.concatenate(rows)).save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sheet", required=True, help="write a contact sheet PNG of every family")
    args = parser.parse_args(argv)
    contact_sheet(Path(args.sheet))
    print(f"wrote {args.sheet}: rows {', '.join(FAMILIES)}")


if __name__ == "__main__":
    main()
