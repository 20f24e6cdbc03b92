"""Score candidate character models side by side on hw62_dev and the EMNIST validation tenth.

    python -m training.compare_recipes runs/emnist/cnn [models/letters ...] [--ensemble A B]

Each argument is a training run of `training.train_emnist` (its `network.keras`, scored as "all" and as
"letters", with and without prior correction) or a model folder (`model.keras`, its own task). hw62_dev is
evaluation data: this chooses between a handful of finished recipes, it never tunes weights. Results are
appended to `runs/emnist/recipes.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from handwriting.labels import labels_for
from handwriting.config import PROJECT_DIR

ALL = labels_for("all")
RESULTS = PROJECT_DIR / "runs" / "emnist" / "recipes.jsonl"


def hw62(task: str, data_dir=None):
    from training.evaluate import hw62_set

    cache = PROJECT_DIR / "data" / "emnist" / f"hw62_{task}.npz"
    if cache.exists():
        with np.load(cache) as d:
            return d["x"], d["y"]
    s = hw62_set(task, data_dir)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=s.x, y=s.y)
    return s.x, s.y


def emnist_validation(task: str):
    """The cache's validation tenth in `task`'s labels (case-merged images: either case counts as right)."""
    from training.emnist_cache import load

    d = load()
    v = d["validation"]
    x, y, y_alt = d["x"][v], d["y"][v].astype(np.int64), d["y_alt"][v].astype(np.int64)
    if task == "letters":
        keep = y >= 10
        x, y, y_alt = x[keep], y[keep] - 10, y_alt[keep] - 10
    return x.astype(np.float32) / 255.0, y, y_alt


def summary(probs, y, labels, y_alt=None) -> dict:
    from training.evaluate import EvalSet, character_scores

    r = character_scores(probs, EvalSet("x", np.zeros((len(y), 1, 1)), y, ""), labels)
    out = {"top1": r["accuracy"], "ci": r["case_insensitive_accuracy"], "top3": r["top3_accuracy"],
           **{k: g["accuracy"] for k, g in r["groups"].items()}}
    if y_alt is not None:
        pred = probs.argmax(1)
        out["top1_either_case_for_merged"] = round(float(((pred == y) | (pred == y_alt)).mean()), 5)
    return out


def adjust(probs: np.ndarray, prior: np.ndarray | None, power: float) -> np.ndarray:
    if prior is None or not power:
        return probs
    p = probs / prior[None, :] ** power
    return p / p.sum(1, keepdims=True)


def to_letters(probs62: np.ndarray) -> np.ndarray:
    p = probs62[:, 10:]
    return p / p.sum(1, keepdims=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--powers", default="0,0.5,1")
    parser.add_argument("--skip-emnist", action="store_true")
    args = parser.parse_args(argv)
    from handwriting.runtime import KerasRuntime
    from training.evaluate import predict_all

    sets = {t: hw62(t) for t in ("letters", "all")}
    val = None if args.skip_emnist else emnist_validation("all")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for path in map(Path, args.paths):
        rows = []
        if (path / "network.keras").exists():
            record = json.loads((path / "train_record.json").read_text())
            prior = np.array(record["prior"])
            rt = KerasRuntime(path / "network.keras")
            p_all = {t: predict_all(rt, x) for t, (x, _) in sets.items()}
            p_val = predict_all(rt, val[0]) if val else None
            for power in map(float, args.powers.split(",")):
                pa = adjust(p_all["all"], prior, power)
                pl = to_letters(adjust(p_all["letters"], prior, power))
                row = {"recipe": str(path), "prior_power": power,
                       "hw62_all": summary(pa, sets["all"][1], ALL),
                       "hw62_letters": summary(pl, sets["letters"][1], labels_for("letters"))}
                if p_val is not None:
                    row["emnist_val_all"] = summary(adjust(p_val, prior, power), val[1], ALL, val[2])
                rows.append(row)
        else:
            metrics = json.loads((path / "metrics.json").read_text())
            task = metrics["task"]
            rt = KerasRuntime(path / "model.keras")
            x, y = sets[task]
            row = {"recipe": str(path), f"hw62_{task}": summary(predict_all(rt, x), y, labels_for(task))}
            if val and task == "all":
                row["emnist_val_all"] = summary(predict_all(rt, val[0]), val[1], ALL, val[2])
            rows.append(row)
        with open(RESULTS, "a") as f:
            for row in rows:
                row["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                f.write(json.dumps(row) + "\n")
                print(json.dumps(row))


if __name__ == "__main__":
    main()
