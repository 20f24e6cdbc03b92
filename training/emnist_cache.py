"""EMNIST (and MNIST) passed once through the serving preprocessing, cached on disk for training.

    python -m training.emnist_cache [--data-dir ../shared/datasets] [--workers 2]
    python -m training.emnist_cache --sheet data/emnist/contact_sheet.png   # look at what training sees

Serving feeds the model `handwriting.preprocessing.to_model_input` of whatever the user drew or uploaded;
EMNIST frames its characters its own way (cropped to 24 px, padded 2 px, no centring by mass), MNIST its
own again. Every image goes through `to_model_input` once, in worker processes, and the results are kept
as uint8 (the float output x 255, rounded) in `data/emnist/preprocessed.npz` (data/ is not committed):

- `x` N x 28 x 28 uint8, white ink on black, as serving makes it;
- `y` the label in the "all" task's order (0-9, A-Z, a-z); for ByMerge's case-merged images the capital,
  with `y_alt` the lowercase (elsewhere `y_alt == y`), and `case_ambiguous` marking them;
- `source` 0 = EMNIST ByClass, 1 = EMNIST ByMerge extra, 2 = MNIST train; `src_index` the index in its file;
- `validation` a seeded random tenth of the EMNIST images (both files), never trained on: the EMNIST
  validation figure. It shares writers with the rest, so it is not a real-world figure (hw62_dev is).

Images the preprocessing refuses (no ink) are dropped and counted in `info`.
"""

from __future__ import annotations

import argparse
import json
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for
from training.config import EMNIST_CACHE_ENV as CACHE_ENV  # noqa: F401  (the older name)
from training.config import EMNIST_CACHE_FILE as CACHE_FILE
from training.config import emnist_cache

SOURCES = ("emnist_byclass", "emnist_bymerge_extra", "mnist_train")
VALIDATION_FRACTION = 0.1
VALIDATION_SEED = 11


def _preprocess_chunk(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from handwriting.preprocessing import InvalidImageError, to_model_input

    out = np.zeros(x.shape, np.uint8)
    ok = np.ones(len(x), bool)
    for k, img in enumerate(x):
        try:
            out[k] = np.clip(np.rint(to_model_input(img) * 255.0), 0, 255).astype(np.uint8)
        except InvalidImageError:
            ok[k] = False
    return out, ok


def preprocess(x: np.ndarray, workers: int, chunk: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """`to_model_input` of every image (uint8 out), in `workers` processes; and which were accepted."""
    from tqdm import tqdm

    pieces = [x[i : i + chunk] for i in range(0, len(x), chunk)]
    with Pool(workers) as pool:
        results = list(tqdm(pool.imap(_preprocess_chunk, pieces), total=len(pieces), unit="chunk"))
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def raw_sources(data_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """The three files as (x, y, y_alt, case_ambiguous, src_index) in the "all" order."""
    all_labels = labels_for("all")
    out = {}
    with np.load(data_dir / "emnist_byclass.npz") as d:
        chars = [str(c) for c in d["classes"]]
        index = np.array([all_labels.index(c) for c in chars])
        y = index[d["y"].astype(np.int64)]
        out["emnist_byclass"] = dict(x=d["x"], y=y, y_alt=y, case_ambiguous=np.zeros(len(y), bool), src_index=d["src_index"])
    with np.load(data_dir / "emnist_bymerge_extra.npz") as d:
        amb = d["case_ambiguous"].astype(bool)
        chars = d["y_char"]
        y = np.array([all_labels.index(str(c)) for c in chars])
        upper = np.array([all_labels.index(str(c).upper()) for c in chars])
        lower = np.array([all_labels.index(str(c).lower()) if str(c).isalpha() else all_labels.index(str(c)) for c in chars])
        y = np.where(amb, upper, y)
        y_alt = np.where(amb, lower, y)
        out["emnist_bymerge_extra"] = dict(x=d["x"], y=y, y_alt=y_alt, case_ambiguous=amb, src_index=d["src_index"])
    with np.load(data_dir / "mnist.npz") as d:
        y = d["y_train"].astype(np.int64)
        out["mnist_train"] = dict(x=d["x_train"], y=y, y_alt=y, case_ambiguous=np.zeros(len(y), bool),
                                  src_index=np.arange(len(y)))
    return out


def build(data_dir: Path, out: Path = CACHE_FILE, workers: int = 2) -> Path:
    started = time.time()
    parts = raw_sources(Path(data_dir))
    arrays = {k: [] for k in ("x", "y", "y_alt", "case_ambiguous", "src_index", "source")}
    refused = {}
    for s, (name, p) in enumerate(parts.items()):
        print(f"{name}: {len(p['y']):,} images")
        x, ok = preprocess(p["x"], workers)
        refused[name] = int((~ok).sum())
        for key in ("y", "y_alt", "case_ambiguous", "src_index"):
            arrays[key].append(np.asarray(p[key])[ok])
        arrays["x"].append(x[ok])
        arrays["source"].append(np.full(int(ok.sum()), s, np.int8))
    data = {k: np.concatenate(v) for k, v in arrays.items()}
    data["y"], data["y_alt"] = data["y"].astype(np.int16), data["y_alt"].astype(np.int16)
    emnist = data["source"] < 2
    rng = np.random.default_rng(VALIDATION_SEED)
    data["validation"] = emnist & (rng.random(len(emnist)) < VALIDATION_FRACTION)
    info = {"sources": list(SOURCES), "refused_by_preprocessing": refused, "seconds": round(time.time() - started, 1),
            "validation_fraction": VALIDATION_FRACTION, "validation_seed": VALIDATION_SEED, "workers": workers,
            "n": int(len(data["y"])), "validation_n": int(data["validation"].sum())}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, info=json.dumps(info), **data)
    tmp.replace(out)
    print(json.dumps(info))
    return out


def cache_path(path=None) -> Path:
    """The argument, else `$HANDWRITING_EMNIST_CACHE`, else data/emnist/preprocessed.npz."""
    return emnist_cache(path)


def load(path: Path | str | None = None) -> dict[str, np.ndarray]:
    with np.load(cache_path(path)) as d:
        data = {k: d[k] for k in d.files}
    data["info"] = json.loads(str(data["info"]))
    return data


def contact_sheet(path: Path, cache: Path = CACHE_FILE, per_class: int = 12, seed: int = 0) -> None:
    """A PNG: one row per class (62), `per_class` random cached images each, ambiguous ones excluded."""
    from PIL import Image

    d = load(cache)
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(62):
        pick = np.flatnonzero((d["y"] == k) & ~d["case_ambiguous"] & (d["source"] < 2))
        pick = rng.choice(pick, min(per_class, len(pick)), replace=False)
        row = np.zeros((30, 30 * per_class), np.uint8) + 60
        for j, i in enumerate(pick):
            row[1:29, 30 * j + 1 : 30 * j + 29] = d["x"][i]
        rows.append(row)
    Image.fromarray(np.concatenate(rows)).save(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=None, help="default: $HANDWRITING_EMNIST_CACHE or data/emnist/preprocessed.npz")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sheet", default=None, help="write a contact sheet PNG of the cache instead of building")
    args = parser.parse_args(argv)
    if args.sheet:
        contact_sheet(Path(args.sheet), cache_path(args.out))
        return
    from training.config import data_dir

    build(data_dir(args.data_dir), cache_path(args.out), args.workers)


if __name__ == "__main__":
    main()
