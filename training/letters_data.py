"""The training sets of the "letters" (52) and "all" (62) tasks, from the synthetic cache (and MNIST).

Labels in the synthetic cache are indices into the "all" task (0-9, A-Z, a-z). The letters task drops
the digits and shifts the rest down by 10; the all task keeps everything and mixes in real MNIST
digits, so the digits of the unified model learn from real handwriting too. Users with EMNIST ByClass
(`training.emnist`) can add it with `--emnist-dir`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for
from training.config import SYNTHETIC_ENV, synthetic_cache  # noqa: F401  (SYNTHETIC_ENV: the older name)

MNIST_SHARE = 0.5  # of each digit class in the 62-class set, real MNIST digits (the rest synthetic)


def synthetic_cache_file(path=None) -> Path:
    """The cache to train from: the argument, `$HANDWRITING_SYNTHETIC_CACHE`, else the newest in data/synthetic."""
    found = synthetic_cache(path)
    if found is None:
        raise SystemExit("No synthetic cache: run `python -m training.synthetic` (after scripts/fetch_fonts.sh) first.")
    return found


def from_all_labels(task: str, x: np.ndarray, y_all: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Select and relabel samples labelled in the "all" task's order for `task`."""
    all_labels, wanted = labels_for("all"), labels_for(task)
    index = {all_labels.index(c): k for k, c in enumerate(wanted)}
    keep = np.isin(y_all, list(index))
    return x[keep], np.array([index[v] for v in y_all[keep]], np.int64)


def mnist_sample(data_dir, per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_digit` MNIST training digits of each class (labels 0-9 are the same in every task)."""
    from training.data import load_mnist

    train, _ = load_mnist(data_dir)
    rng = np.random.default_rng(seed)
    picks = np.concatenate([rng.choice(np.flatnonzero(train.y == d), per_digit, replace=False) for d in range(10)])
    return train.x[picks], train.y[picks]


def training_set(task: str, data_dir=None, cache=None, seed: int = 0, emnist_dir=None) -> tuple[np.ndarray, np.ndarray, str]:
    """(x uint8 N x 28 x 28, y, description) for "letters" or "all"."""
    from training.synthetic import load_cache

    path = synthetic_cache_file(cache)
    xs, ys, _fonts, info = load_cache(path)
    x, y = from_all_labels(task, xs, ys)
    fonts = len(info["fonts"])
    parts = [f"{len(y):,} synthetic renders ({fonts} fonts, {path.name}, whose {info['n']:,} renders of all "
             f"62 classes took {info['generation_seconds']:.0f} s to generate with {info['workers']} processes)"]
    if task == "all":
        # Every class as large as a letter class: with 2.5x more digits (a first try mixed 3,000 MNIST
        # digits into 2,000 synthetic ones) the prior pulled o to 0, z to 2, g to 8, q to 9.
        per_class = int(np.median(np.bincount(y)[10:]))
        n_mnist = int(per_class * MNIST_SHARE)
        rng = np.random.default_rng(seed)
        keep = np.ones(len(y), bool)
        for d in range(10):
            digits = np.flatnonzero(y == d)
            keep[rng.choice(digits, max(0, len(digits) - (per_class - n_mnist)), replace=False)] = False
        mx, my = mnist_sample(data_dir, n_mnist, seed)
        x, y = np.concatenate([x[keep], mx]), np.concatenate([y[keep], my])
        parts[0] = parts[0].replace(f"{len(keep):,} synthetic", f"{int(keep.sum()):,} synthetic", 1)
        parts.append(f"{len(my):,} MNIST training digits (each digit class {per_class:,}, half real, as large as a letter class)")
    if emnist_dir:
        from training.emnist import load_emnist_byclass

        ex, ey = load_emnist_byclass(emnist_dir, task, split="train")
        x, y = np.concatenate([x, ex]), np.concatenate([y, ey])
        parts.append(f"{len(ey):,} EMNIST ByClass")
    return x, y, " + ".join(parts)
