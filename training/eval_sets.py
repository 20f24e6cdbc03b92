"""The evaluation sets in the model's input format, built once and scored by any evaluation: MNIST test,
USPS and the hw62_dev photos (through the app's upload preprocessing), the EMNIST validation tenth.

`training.evaluate` (accuracy, model cards), `training.evaluate_refusal` ("?") and `training.retrain` (the
gate) all read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from handwriting.tasks import labels_for
from handwriting.preprocessing import InvalidImageError, to_model_input
from training.data import load_hw62_paths, load_mnist, load_usps


def predict_all(runtime, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Class probabilities for N x 28 x 28 model inputs."""
    return np.concatenate([runtime(x[i : i + batch]) for i in range(0, len(x), batch)])


def preprocess_all(items, desc: str) -> tuple[np.ndarray, np.ndarray]:
    """Run user-style inputs through the app's preprocessing; returns inputs and a kept-mask."""
    out, kept = [], []
    for item in tqdm(items, desc=desc, unit="img"):
        try:
            out.append(to_model_input(item))
            kept.append(True)
        except InvalidImageError:
            out.append(np.zeros((28, 28), np.float32))
            kept.append(False)
    return np.stack(out), np.array(kept)


@dataclass
class EvalSet:
    """One evaluation set in the model's input format, prepared once and scored for any number of models."""

    name: str
    x: np.ndarray  # float32 N x 28 x 28 in [0, 1], white ink on black
    y: np.ndarray  # label indices
    description: str
    refused: int | None = None  # inputs the upload preprocessing refused (user-style sets only)


def digit_sets(data_dir, skip_missing: bool = False) -> list[EvalSet]:
    """MNIST test, USPS and the hw62_dev digit photos (the last two through the app's preprocessing).

    With `skip_missing`, the sets whose files cannot be found are left out instead of failing (the
    retraining gate compares models on whatever sets exist; a release evaluation needs all three).
    """
    labels = labels_for("digits")
    sets = []
    try:
        _, test = load_mnist(data_dir)
        sets.append(EvalSet("mnist_test", test.x.astype(np.float32) / 255.0, test.y,
                            f"MNIST test set, {len(test.y):,} digits, as published (already 28x28)"))
    except Exception:
        if not skip_missing:
            raise
    try:
        usps = load_usps(data_dir)
        x, kept = preprocess_all(list(usps.x), "USPS through the app's preprocessing")
        sets.append(EvalSet("usps", x[kept], usps.y[kept],
                            f"USPS training split, {len(usps.y):,} digits, 16x16 scans, through the upload preprocessing",
                            int((~kept).sum())))
    except FileNotFoundError:
        if not skip_missing:
            raise
    try:
        photos = [(p, c) for p, c in load_hw62_paths(data_dir) if c.isdigit()]
        x, kept = preprocess_all([p for p, _ in photos], "hw62_dev digit photos")
        y = np.array([labels.index(c) for _, c in photos])
        sets.append(EvalSet("hw62_digits", x[kept], y[kept],
                            "hw62_dev digits: photographed pen on paper, through the upload preprocessing",
                            int((~kept).sum())))
    except FileNotFoundError:
        if not skip_missing:
            raise
    return sets


def hw62_set(task: str, data_dir) -> EvalSet:
    """The hw62_dev photos of `task`'s classes, through the app's upload preprocessing."""
    labels = labels_for(task)
    photos = [(p, c) for p, c in load_hw62_paths(data_dir) if c in labels]
    x, kept = preprocess_all([p for p, _ in photos], f"hw62_dev photos ({task})")
    y = np.array([labels.index(c) for _, c in photos])
    return EvalSet(f"hw62_{task}", x[kept], y[kept],
                   f"hw62_dev {task}: photographed pen on paper, through the upload preprocessing", int((~kept).sum()))


def emnist_validation_set(task: str, cache=None) -> EvalSet | None:
    """The EMNIST validation tenth kept aside by `training.emnist_cache` (None when the cache is absent).

    Only images with an exact label: ByMerge's case-merged images are left out (their case is unknown).
    It shares writers with the training part, so it is not a real-world figure (hw62_dev is).
    """
    from training.emnist_cache import cache_path

    path = cache_path(cache)
    if not path.exists():
        return None
    with np.load(path) as d:
        keep = d["validation"] & ~d["case_ambiguous"]
        x, y = d["x"][keep], d["y"][keep].astype(np.int64)
    all_labels, labels = labels_for("all"), labels_for(task)
    index = np.array([labels.index(c) if c in labels else -1 for c in all_labels])
    y = index[y]
    x, y = x[y >= 0], y[y >= 0]
    return EvalSet("emnist_val", x.astype(np.float32) / 255.0, y,
                   f"EMNIST validation tenth ({task} classes, seeded, never trained on; shares writers with the training "
                   "part; ByMerge's case-merged images left out), through the serving preprocessing")
