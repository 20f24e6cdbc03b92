"""Loaders for the data sets the project trains and evaluates on.

Every loader takes a data folder first (the project never bundles data sets) and, where the data set has
a public download, falls back to it when the folder does not hold the file: a user with a network gets
the real thing, this offline workplace uses `../shared/datasets`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.config import DATA_DIR_ENV, data_dir as default_data_dir  # noqa: F401  (the older names)


@dataclass
class Split:
    x: np.ndarray  # uint8 N x H x W, white ink on black (MNIST convention)
    y: np.ndarray  # int labels, indices into the task's label set


def load_mnist(data_dir: Path | str | None = None) -> tuple[Split, Split]:
    """MNIST (train, test) from `<data_dir>/mnist.npz`, else Keras's own download."""
    path = Path(data_dir or default_data_dir()) / "mnist.npz"
    if path.exists():
        with np.load(path) as d:
            return Split(d["x_train"], d["y_train"].astype(np.int64)), Split(
                d["x_test"], d["y_test"].astype(np.int64)
            )
    import keras  # only needed for the download

    (x_tr, y_tr), (x_te, y_te) = keras.datasets.mnist.load_data()
    return Split(x_tr, y_tr.astype(np.int64)), Split(x_te, y_te.astype(np.int64))


def load_usps(data_dir: Path | str | None = None) -> Split:
    """The USPS training split (16x16, white on black). For evaluation only, never training."""
    path = Path(data_dir or default_data_dir()) / "usps_train_16x16.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: USPS is read from the data folder only.")
    with np.load(path) as d:
        return Split(d["x"], d["y"].astype(np.int64))


_HW62_NAME = re.compile(r"^(DIGIT|CAP|SMALL)_([0-9A-Za-z])_\d+\.png$")


def load_hw62_paths(data_dir: Path | str | None = None) -> list[tuple[Path, str]]:
    """(file, character) pairs of the hw62_dev photo set. For evaluation only, never training."""
    folder = Path(data_dir or default_data_dir()) / "hw62_dev"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found: hw62_dev is read from the data folder only.")
    pairs = []
    for path in sorted(folder.iterdir()):
        match = _HW62_NAME.match(path.name)
        if match:
            pairs.append((path, match.group(2)))
    return pairs
