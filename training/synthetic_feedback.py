"""Make a synthetic feedback file, for checking the retraining pipeline before real feedback exists.

    python -m training.synthetic_feedback --n 500 --out runs/feedback_500.npz --data-dir ../shared/datasets

Writes the training file the app's feedback export writes (`python -m training.feedback export`: x uint8
N x 28 x 28 white on black, y, labels, task, ids, source, was_correct), made the way the app
makes feedback: each glyph is drawn on a 280x280 white canvas with a black brush and normalised by the
app's own preprocessing. What is drawn:

- MNIST *training* digits re-drawn as canvas strokes (brush widths vary), with their right labels; never
  test digits, which stay evaluation only;
- two styles the digit model reads poorly (the model card's limitations): a 7 crossed in the middle, and
  a European 1 with a long flag and a foot.

For letters and all (`--task letters|all`): EMNIST training-part images from the preprocessed cache
(`training.emnist_cache`; never its validation tenth) and capital Zs with a bar through the diagonal.

`--mix` picks other shares, among them two common styles the served models do misread: a
zero with a slash through it (the digits model answers "?" for most) and a looped cursive l (read as L, E,
B or R): feedback a retrain has something to learn from.

    python -m training.synthetic_feedback --task letters --n 1000 --mix emnist=0.7,looped_ell=0.3 --out fb.npz

Two more, for every task, are pictures people say are none of the characters ("?"): ticks and arrows drawn as
`training.doodles` draws them, the doodles the letters and all models read most often as v, T or i. They are
held-out families of the "?" evaluation: a model retrained on such a file is no longer measured fairly on them.

`--look mixed` sends the MNIST / EMNIST part in the ways people send pictures to the page: a third drawn on
the sketchpad, a third photographed pen on paper (some on ruled paper; `training.photo_renders`), a third
as scanned, each through the app's preprocessing. The default (`scan`) keeps the earlier files'
make-up (digits re-drawn on the pad, letters as scanned).

`was_correct` says whether the given model (default: the one the app serves) answered it right, as the app
records it: an answer of "?" (the model's refusal.json) is wrong too. Everything is seeded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from handwriting.preprocessing import InvalidImageError, to_model_input
from handwriting.refusal import RefusalPolicy
from handwriting.tasks import labels_for
from training.doodles import ellipse

# The default mix of a synthetic file: shares of re-drawn MNIST digits, crossed 7s and flagged 1s.
MIX = {"mnist_redrawn": 0.6, "crossed_seven": 0.2, "flagged_one": 0.2}
CANVAS = 280
SOURCES = ("app", "api", "game")


def _as_uint8(model_input: np.ndarray) -> np.ndarray:
    return np.round(model_input * 255).astype(np.uint8)


def redraw_on_canvas(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit (uint8 28x28, white on black) as canvas strokes, through the app's preprocessing."""
    from training.photo_renders import canvas_of

    return _as_uint8(to_model_input(canvas_of(digit, rng, side=CANVAS, pen_change=(-4, 7))))


def _draw(lines: list[list[tuple[float, float]]], rng: np.random.Generator) -> np.ndarray:
    img = Image.new("L", (CANVAS, CANVAS), 255)
    pen = ImageDraw.Draw(img)
    width = int(rng.integers(12, 26))
    for points in lines:
        pen.line(points, fill=0, width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # round caps, as a brush makes
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    img = img.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BILINEAR, fillcolor=255)
    return _as_uint8(to_model_input(np.asarray(img)))


def crossed_seven(rng: np.random.Generator) -> np.ndarray:
    """A 7 with a bar across the middle of its stem (a common European style)."""
    j = lambda s=12: rng.uniform(-s, s)  # noqa: E731
    left, right, foot = (70 + j(), 60 + j()), (215 + j(), 58 + j()), (125 + j(20), 235 + j())
    t = rng.uniform(0.4, 0.6)
    cx, cy = right[0] + (foot[0] - right[0]) * t, right[1] + (foot[1] - right[1]) * t
    half = rng.uniform(35, 55)
    return _draw([[left, right, foot], [(cx - half, cy + j(6)), (cx + half, cy + j(6))]], rng)


def flagged_one(rng: np.random.Generator) -> np.ndarray:
    """A 1 with a long flag and a foot (a common European style, easily read as a 7)."""
    j = lambda s=10: rng.uniform(-s, s)  # noqa: E731
    top, bottom = (150 + j(), 45 + j()), (140 + j(), 235 + j())
    flag = (top[0] - rng.uniform(55, 85), top[1] + rng.uniform(45, 75))
    foot = rng.uniform(35, 55)
    return _draw([[flag, top, bottom], [(bottom[0] - foot, bottom[1]), (bottom[0] + foot, bottom[1])]], rng)


def crossed_zed(rng: np.random.Generator) -> np.ndarray:
    """A capital Z with a bar through its diagonal (a common European style): for the letters and all tasks."""
    j = lambda s=12: rng.uniform(-s, s)  # noqa: E731
    top_left, top_right = (65 + j(), 55 + j()), (215 + j(), 55 + j())
    bottom_left, bottom_right = (60 + j(), 230 + j()), (220 + j(), 230 + j())
    cx, cy = 140 + j(8), 142 + j(8)
    half = rng.uniform(35, 55)
    return _draw([[top_left, top_right, bottom_left, bottom_right], [(cx - half, cy + j(5)), (cx + half, cy + j(5))]], rng)


def slashed_zero(rng: np.random.Generator) -> np.ndarray:
    """A zero with a slash through it (as programmers and Scandinavians write it, to tell it from O)."""
    j = lambda s=10: rng.uniform(-s, s)  # noqa: E731
    cx, cy, rx, ry = 140 + j(), 140 + j(), rng.uniform(55, 75), rng.uniform(85, 100)
    lean = rng.uniform(-0.15, 0.15)
    ring = [(x + lean * (y - cy), y) for x, y in ellipse(cx, cy, rx, ry, 0, 2 * np.pi, 48)]
    reach = rng.uniform(0.8, 1.0)
    slash = [(cx - rx * reach + j(6), cy + ry * reach + j(6)), (cx + rx * reach + j(6), cy - ry * reach + j(6))]
    return _draw([ring, slash], rng)


def looped_ell(rng: np.random.Generator) -> np.ndarray:
    """A cursive lower-case l: up from the baseline, a loop at the top, down, and a tail to the right."""
    j = lambda s=8: rng.uniform(-s, s)  # noqa: E731
    height, width = rng.uniform(145, 175), rng.uniform(35, 55)
    x0, base = 110 + j(), 235 + j()
    top = base - 10 - height
    rise = [(x0 - 30 + 60 * u, base - 10 - (height - 18) * u) for u in np.linspace(0, 1, 15)]
    loop = [tuple(point) for point in ellipse(x0 + 10, top + 28, width / 2, 28, 0, -np.pi, 15)]
    down = [(x0 - 15 + 5 * u, top + 28 + (height - 18) * u) for u in np.linspace(0, 1, 15)]
    tail = [(x0 - 10 + 40 * u, base - 20 * np.sin(np.pi * u / 2)) for u in np.linspace(0, 1, 8)]
    return _draw([rise + loop + down + tail], rng)


STYLES = {"crossed_seven": (crossed_seven, "7"), "flagged_one": (flagged_one, "1"), "crossed_zed": (crossed_zed, "Z"),
          "slashed_zero": (slashed_zero, "0"), "looped_ell": (looped_ell, "l")}
NONE_STYLES = ("tick", "arrow")  # `training.doodles` families, said to be none of the characters ("?")


def glyphs(style: str, n: int, seed: int = 0, task: str = "digits") -> tuple[np.ndarray, np.ndarray]:
    """`n` drawings of a synthetic style: (x uint8 n x 28 x 28, y label indices in `task`'s labels; len(labels)
    for a NONE_STYLES doodle)."""
    if style in NONE_STYLES:
        from training import doodles

        x = doodles.doodle_images({style: doodles.FAMILIES[style]}, n, seed)[0] if n else np.zeros((0, 28, 28), np.uint8)
        return x, np.full(n, len(labels_for(task)), np.int64)
    draw, label = STYLES[style]
    rng = np.random.default_rng(seed)
    x = np.stack([draw(rng) for _ in range(n)]) if n else np.zeros((0, 28, 28), np.uint8)
    return x, np.full(n, labels_for(task).index(label), np.int64)


def shuffled_records(parts: list[tuple[np.ndarray, np.ndarray]], counts: dict[str, int], seed: int, task: str, runtime,
                     policy=None):
    """(x, y, was_correct): `parts` and the drawings of each style in `counts` (in its order: the n-th style
    drawn with seed + n, as the earlier files were), shuffled, each marked as `answered_right` marks it."""
    styles = [name for name in counts if (name in STYLES or name in NONE_STYLES) and counts[name]]
    parts = parts + [glyphs(style, counts[style], seed + 1 + i, task) for i, style in enumerate(styles)]
    order = np.random.default_rng(seed + 100).permutation(sum(len(p[1]) for p in parts))
    x, y = np.concatenate([p[0] for p in parts])[order], np.concatenate([p[1] for p in parts])[order]
    return x, y, answered_right(runtime, x, y, policy or RefusalPolicy.never())


def redrawn(digits: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([redraw_on_canvas(d, rng) for d in tqdm(digits, desc="re-drawing MNIST digits", unit="img")])


LOOKS = ("scan", "mixed")
# How a community of users writes, unlike the training data's writers: (shear range, width range). A leaning,
# tall and narrow cursive hand: the base models' augmentation (rotation 8 degrees, zoom 8%) does not cover it,
# and they misread it (letters model 2.1.0 on 3,000 EMNIST validation letters: 82% -> 72% exact, 95% -> 84% case-insensitive).
HANDS = {"as-written": None, "slanted-narrow": ((0.4, 0.6), (0.5, 0.7))}


def in_hand(chars: np.ndarray, hand: str, seed: int = 0) -> np.ndarray:
    """Characters (uint8 N x 28 x 28, white on black) as written in `hand` (`HANDS`): each re-shaped at 4x
    (narrowed, then leant right), through the app's preprocessing, which centres and scales it again."""
    if HANDS[hand] is None:
        return chars
    (shear_lo, shear_hi), (width_lo, width_hi) = HANDS[hand]
    rng = np.random.default_rng(seed)
    out = chars.copy()
    for i, char in enumerate(chars):
        shear, width = rng.uniform(shear_lo, shear_hi), rng.uniform(width_lo, width_hi)
        glyph = Image.fromarray(255 - char).resize((int(112 * width), 112), Image.BILINEAR)
        page = Image.new("L", (glyph.width + 120, 132), 255)
        page.paste(glyph, (60, 10))
        leant = page.transform(page.size, Image.AFFINE, (1, shear, -shear * 66, 0, 1, 0), Image.BILINEAR, fillcolor=255)
        try:
            out[i] = _as_uint8(to_model_input(np.asarray(leant)))
        except InvalidImageError:  # too faint once thinned: kept as it was
            pass
    return out


def as_sent(chars: np.ndarray, look: str, seed: int = 0) -> np.ndarray:
    """Characters (uint8 N x 28 x 28, white on black) as the page receives them, through its preprocessing.

    "scan": as they are; "mixed": each in turn drawn on the sketchpad, photographed (a third of the photos on
    ruled paper) and as scanned."""
    from training.photo_renders import photo_of

    if look == "scan":
        return chars
    rng = np.random.default_rng(seed)
    out = chars.copy()
    for i, char in enumerate(tqdm(chars, desc="pictures as people send them", unit="img")):
        way = i % 3
        try:
            if way == 0:
                out[i] = redraw_on_canvas(char, rng)
            elif way == 1:
                out[i] = _as_uint8(to_model_input(photo_of(char, rng, ruled=rng.random() < 1 / 3)))
        except InvalidImageError:  # too faint to photograph: sent as scanned
            pass
    return out


def answered_right(runtime, x: np.ndarray, y: np.ndarray, policy) -> np.ndarray:
    """What the app records as `was_correct`: the answer is the right character, and not "?"; for a picture
    that is none of them (y == len(labels)), the answer is "?"."""
    from handwriting.refusal import refused_mask
    from training.eval_sets import predict_all

    probs = predict_all(runtime, x.astype(np.float32) / 255.0)
    n_labels = probs.shape[1] - (1 if policy.none_unit else 0)
    refused = refused_mask(probs, policy)
    return np.where(y == n_labels, refused, (probs[:, :n_labels].argmax(1) == y) & ~refused)


def feedback_file(path, x: np.ndarray, y: np.ndarray, was_correct: np.ndarray, seed: int = 0, task: str = "digits") -> Path:
    """Write records as the app's feedback export does (`training.feedback_file`), with seeded ids and sources."""
    from training.feedback_file import TrainingSet, save_training_file

    rng = np.random.default_rng(seed)
    data = TrainingSet(task=task, x=x.astype(np.uint8), y=y.astype(np.int64), labels=labels_for(task),
                       ids=np.array([f"synthetic-{seed}-{i:05d}" for i in range(len(y))]),
                       source=np.array(rng.choice(SOURCES, size=len(y))), was_correct=np.asarray(was_correct, bool))
    return save_training_file(path, data)


def make_feedback(n: int, data_dir, runtime, seed: int = 0, mix: dict[str, float] = MIX, look: str = "scan", policy=None,
                  hand: str = "as-written"):
    """(x, y, was_correct) of `n` synthetic records in the proportions of `mix`, shuffled. `look` "scan" re-draws
    the MNIST digits on the pad; "mixed" sends them as `as_sent` does; `hand` re-shapes them first (`in_hand`)."""
    from training.data import load_mnist

    counts = counts_of(mix, n, "mnist_redrawn")
    train, _ = load_mnist(data_dir)
    pick = np.random.default_rng(seed).choice(len(train.y), counts["mnist_redrawn"], replace=False)
    written = in_hand(train.x[pick], hand, seed)
    digits = redrawn(written, seed) if look == "scan" else as_sent(written, look, seed)
    return shuffled_records([(digits, train.y[pick])], counts, seed, "digits", runtime, policy)


CHARACTER_MIX = {"emnist": 0.7, "crossed_zed": 0.3}


def counts_of(mix: dict[str, float], n: int, rest: str) -> dict[str, int]:
    """How many records each part of `mix` gets out of `n` (rounding left-overs go to `rest`)."""
    counts = {name: int(round(share * n)) for name, share in mix.items()}
    counts[rest] = counts.get(rest, 0) + n - sum(counts.values())
    return counts


def parse_mix(text: str, task: str) -> dict[str, float]:
    """`--mix` as `name=share,...`: `mnist_redrawn` (digits) or `emnist` (letters, all), and `STYLES` whose
    character the task has; shares are normalised to sum to one."""
    main = "mnist_redrawn" if task == "digits" else "emnist"
    allowed = [main] + [name for name, (_, label) in STYLES.items() if label in labels_for(task)] + list(NONE_STYLES)
    mix = {}
    for part in text.split(","):
        name, _, share = part.partition("=")
        if name.strip() not in allowed:
            raise ValueError(f"--mix: {name.strip()!r} is not one of {', '.join(allowed)} (task {task})")
        mix[name.strip()] = float(share)
    if min(mix.values()) < 0 or sum(mix.values()) <= 0:
        raise ValueError("--mix: shares must be >= 0 and not all 0")
    return {name: share / sum(mix.values()) for name, share in mix.items()}


def make_character_feedback(n: int, task: str, runtime, seed: int = 0, emnist_cache=None, mix: dict[str, float] = CHARACTER_MIX,
                            look: str = "scan", policy=None, hand: str = "as-written"):
    """Letters / all: (x, y, was_correct) of `n` records: EMNIST *training-part* images from the preprocessed cache
    (never its validation tenth, never hw62_dev), written in `hand` (`in_hand`) and sent with `look` (`as_sent`),
    and drawings of the `mix`'s styles (default: crossed Zs, a European style), shuffled."""
    from training.emnist_cache import load

    d = load(emnist_cache)
    counts = counts_of(mix, n, "emnist")
    pool = ~d["validation"] & ~d["case_ambiguous"] & (d["source"] < 2)
    if task == "letters":
        pool &= d["y"] >= 10
    pick = np.random.default_rng(seed).choice(np.flatnonzero(pool), counts["emnist"], replace=False)
    ey = d["y"][pick].astype(np.int64) - (10 if task == "letters" else 0)
    sent = as_sent(in_hand(d["x"][pick], hand, seed), look, seed)
    return shuffled_records([(sent, ey)], counts, seed, task, runtime, policy)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="digits", choices=["digits", "letters", "all"])
    parser.add_argument("--emnist-cache", default=None, help="letters/all: the preprocessed EMNIST cache (training.emnist_cache)")
    parser.add_argument("--n", type=int, default=500, help="number of records (default 500)")
    parser.add_argument("--out", required=True, help="the .npz file to write")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist.npz (default: $HANDWRITING_DATA_DIR or ../shared/datasets)")
    parser.add_argument("--model-dir", default=None, help="model that sets was_correct (default: the one the app serves)")
    parser.add_argument("--look", default="scan", choices=LOOKS,
                        help="scan: as the earlier files; mixed: drawn on the pad, photographed and scanned (default scan)")
    parser.add_argument("--hand", default="as-written", choices=list(HANDS),
                        help="how the MNIST / EMNIST characters are written: as in the data set, or re-shaped into "
                             "another community's hand (default as-written)")
    parser.add_argument("--mix", default=None,
                        help="shares of the parts, e.g. emnist=0.7,looped_ell=0.3 or mnist_redrawn=0.7,slashed_zero=0.3 "
                             f"(styles: {', '.join(STYLES)}; default: digits {MIX}, letters and all {CHARACTER_MIX})")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        mix = parse_mix(args.mix, args.task) if args.mix else (MIX if args.task == "digits" else CHARACTER_MIX)
    except ValueError as error:
        parser.error(str(error))

    from handwriting.model_folder import KERAS_FILE
    from training.keras_runtime import KerasRuntime
    from handwriting.models import resolve as resolve_model

    weights = Path(args.model_dir) / KERAS_FILE if args.model_dir else resolve_model(args.task).weights
    runtime, policy = KerasRuntime(weights), RefusalPolicy.load(Path(weights).parent)
    if args.task == "digits":
        x, y, was_correct = make_feedback(args.n, args.data_dir, runtime, args.seed, mix=mix, look=args.look, policy=policy,
                                          hand=args.hand)
    else:
        x, y, was_correct = make_character_feedback(args.n, args.task, runtime, args.seed, args.emnist_cache, mix=mix,
                                                    look=args.look, policy=policy, hand=args.hand)
    path = feedback_file(args.out, x, y, was_correct, args.seed, args.task)
    print(f"wrote {path}: {len(y)} records, {int((~was_correct).sum())} of them corrections "
          f"(the model at {weights} got them wrong)")


if __name__ == "__main__":
    main()
