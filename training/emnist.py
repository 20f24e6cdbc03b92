"""EMNIST ByClass for users who have it: real handwritten letters, 62 classes in the "all" task's order.

    python -m training.emnist <folder>     # prints what it found

Two sources, the first that works:
- the official gzip IDX files in a folder (`emnist-byclass-{train,test}-{images-idx3,labels-idx1}-ubyte.gz`,
  from the `gzip.zip` NIST publishes);
- the `emnist` package (`pip install emnist`), which downloads and caches the same files itself.

NIST stored every image transposed (each one is its own mirror across the diagonal): the IDX files are
transposed back here. The `emnist` package already swaps the axes, so its arrays are used as they are.
ByClass labels are 0-9, A-Z, a-z, exactly the "all" task's labels (`handwriting.tasks`); for "letters" the digits are
dropped and the rest shifted down by 10. This workplace has no EMNIST (no network): the loader is tested
on a tiny file in the same format.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for

FILE_PATTERN = "emnist-byclass-{split}-{kind}-ubyte.gz"
KINDS = {"images": "images-idx3", "labels": "labels-idx1"}
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"),
             0x0E: np.dtype(">f8")}


def read_idx(path: Path | str) -> np.ndarray:
    """An IDX file (gzip or plain): magic 0 0 type ndim, big-endian uint32 sizes, then the data."""
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file")
    dims = raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, ">u4", count=dims, offset=4))
    data = np.frombuffer(raw, IDX_TYPES[raw[2]], offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {data.size} values")
    return data.reshape(shape)


def positions_in_all(task: str) -> np.ndarray:
    """Where each of `task`'s labels sits among all 62 characters (the ByClass order the 62-class networks
    and "?" heads learn in)."""
    every = labels_for("all")
    return np.array([every.index(c) for c in labels_for(task)], np.int64)


def from_all(task: str, missing: int = -1) -> np.ndarray:
    """For each of the 62 characters, its index among `task`'s labels; `missing` where the task lacks it."""
    index = np.full(len(labels_for("all")), missing, np.int64)
    index[positions_in_all(task)] = np.arange(len(labels_for(task)))
    return index


def to_task(task: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ByClass labels (the "all" order) -> `task`'s labels, dropping the classes it does not have."""
    mapped = from_all(task)[y.astype(np.int64)]
    keep = mapped >= 0
    return x[keep], mapped[keep]


def load_emnist_byclass(folder: Path | str | None, task: str = "all", split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 N x 28 x 28 upright, white ink on black; y in `task`'s order) for `split` "train" or "test"."""
    if split not in ("train", "test"):
        raise ValueError("split must be 'train' or 'test'")
    files = {k: Path(folder or ".") / FILE_PATTERN.format(split=split, kind=v) for k, v in KINDS.items()}
    if folder and all(f.exists() for f in files.values()):
        x = read_idx(files["images"]).transpose(0, 2, 1)  # NIST's transposed storage, made upright
        y = read_idx(files["labels"])
    else:
        try:
            import emnist  # downloads (once) and already un-transposes
        except ImportError:
            raise FileNotFoundError(
                f"EMNIST ByClass not found in {folder} ({files['images'].name}) and the `emnist` package is not installed"
            ) from None
        x, y = emnist.extract_samples("byclass", split)
    if x.shape[1:] != (28, 28) or len(x) != len(y):
        raise ValueError(f"unexpected EMNIST arrays: images {x.shape}, labels {y.shape}")
    return to_task(task, np.ascontiguousarray(x, np.uint8), y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default=None)
    parser.add_argument("--task", default="all", choices=["letters", "all"])
    args = parser.parse_args(argv)
    for split in ("train", "test"):
        x, y = load_emnist_byclass(args.folder, args.task, split)
        print(f"{split}: {len(y):,} images, {len(np.unique(y))} classes")


if __name__ == "__main__":
    main()
