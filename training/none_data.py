"""The data the "none" unit learns from, in one place: generated doodles (cached), the EMNIST letters that
look like no digit, and what a "?" model keeps seeing when `training.retrain` fine-tunes it.

Used by `training.train_refusal`, `training.refusal_head`, `training.evaluate_refusal` and `training.retrain`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for

ALL = labels_for("all")
# Letters that look like no digit (the list): the digits task's "none" negatives from EMNIST's training part.
NEGATIVE_LETTERS = tuple("AEFHKMNPRTWXYaefhkmnrtwx")
MNIST_VALIDATION = 5000  # MNIST training digits kept aside (seeded) for validation and calibration
DOODLE_CACHE = Path("data") / "doodles"


def doodles(families: str | tuple[str, ...], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generated doodles of "train", "train+" (with the everyday objects) or "eval" families (or the named
    families), cached in data/doodles (they take a minute to draw); the family index is in the order of the
    families drawn."""
    from handwriting.config import PROJECT_DIR
    from training import doodles as d

    groups = {"train": d.TRAIN_FAMILIES, "train+": {**d.TRAIN_FAMILIES, **d.MORE_TRAIN_FAMILIES}, "eval": d.EVAL_FAMILIES}
    chosen = groups[families] if isinstance(families, str) else {name: d.FAMILIES[name] for name in families}
    key = "-".join(chosen)
    path = PROJECT_DIR / DOODLE_CACHE / f"{key}_{n}_{seed}.npz"
    if path.exists():
        with np.load(path) as f:
            return f["x"], f["family"]
    x, fam = d.doodle_images(chosen, n, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, x=x, family=fam)
    return x, fam


def negative_letter_mask(data: dict) -> np.ndarray:
    """EMNIST images of `NEGATIVE_LETTERS` (case-merged ones only when both cases are in the list)."""
    wanted = np.array([c in NEGATIVE_LETTERS for c in ALL])
    y, y_alt = data["y"].astype(np.int64), data["y_alt"].astype(np.int64)
    return (data["source"] < 2) & wanted[y] & wanted[y_alt]


def none_unit_base_data(task: str, cache=None, seed: int = 0, doodles_from: str = "train") -> tuple[np.ndarray, np.ndarray, str]:
    """What a "?" model learnt beside its task's base data, for `training.retrain` to keep showing it: the
    doodles of the families its none unit learnt from (`doodles_from`) as "none" (label len(labels)); digits
    also EMNIST's digits and, as "none", the EMNIST letters that look like no digit (training part only)."""
    from training.emnist_cache import load

    none = len(labels_for(task))
    dx, _ = doodles(doodles_from, 24000 if task == "digits" else 34000, seed)
    parts, xs, ys = [f"{len(dx):,} training-family doodles as none"], [dx], [np.full(len(dx), none)]
    if task == "digits":
        try:
            data = load(cache)
        except FileNotFoundError:  # no EMNIST here: the doodles alone keep the none unit in shape
            return dx, np.full(len(dx), none, np.int64), parts[0] + " (no EMNIST cache: its digits and letters left out)"
        y, src, val = data["y"].astype(np.int64), data["source"], data["validation"]
        digits = np.flatnonzero((src < 2) & (y < 10) & ~val)
        letters = np.flatnonzero(negative_letter_mask(data) & ~val)
        xs += [data["x"][digits], data["x"][letters]]
        ys += [y[digits], np.full(len(letters), none)]
        parts += [f"{len(digits):,} EMNIST digits", f"{len(letters):,} EMNIST letters that look like no digit as none"]
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64), ", ".join(parts)
