"""Score candidate character models side by side on hw62_dev and the EMNIST validation tenth.

    python -m training.compare_recipes runs/emnist/cnn [models/letters ...] [--ensemble]

Each argument is a training run of `training.train_emnist` (its `network.keras`, scored as "all" and as
"letters", with and without prior correction) or a model folder (`model.keras`, its own task). With
`--ensemble`, the training runs given are also scored together, as `training.ensemble` would serve them: each
run's probabilities prior-corrected and restricted to the task, then averaged. hw62_dev is
evaluation data: this chooses between a handful of finished recipes, it never tunes weights. Results are
appended to `runs/emnist/recipes.jsonl`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for
from handwriting.model_folder import KERAS_FILE, read_metrics, read_training
from training.config import HW62_CACHE_DIR, RECIPES_FILE

ALL = labels_for("all")
RESULTS = RECIPES_FILE


def hw62(task: str, data_dir=None):
    from training.evaluate import hw62_set

    cache = HW62_CACHE_DIR / f"hw62_{task}.npz"
    if cache.exists():
        with np.load(cache) as d:
            return d["x"], d["y"]
    s = hw62_set(task, data_dir)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=s.x, y=s.y)
    return s.x, s.y


def emnist_validation(task: str):
    """The cache's validation tenth in `task`'s labels, without ByMerge's case-merged images (as `training.evaluate`)."""
    from training.emnist_cache import load

    d = load()
    v = d["validation"] & ~d["case_ambiguous"]
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


SHAPE_ALIKE = (("C", "c"), ("O", "o"), ("S", "s"), ("V", "v"), ("W", "w"), ("X", "x"), ("Z", "z"))
SHAPE_ALIKE_ALL = (("O", "o", "0"), ("I", "l", "1"))


def lookalike_gaps(probs: np.ndarray, y: np.ndarray, labels) -> dict:
    """For images of characters whose shape cannot tell them apart (c/C, o/O, s/S, v/V, w/W, x/X, z/Z, and in
    the 62-class task 0/O/o and 1/l/I): the mean confidence gap between the two most likely members of the
    group, how often all members are in the top 3 (two-member groups: both; three: the best two), and how
    often the top answer is a member of the group."""
    groups = [g for g in SHAPE_ALIKE if all(c in labels for c in g)]
    if "0" in labels:
        groups = [g for g in groups if g != ("O", "o")] + list(SHAPE_ALIKE_ALL)
    rows, gaps, both, in_group = {}, [], [], []
    top3 = np.argsort(-probs, axis=1)[:, :3]
    for g in groups:
        idx = [labels.index(c) for c in g]
        mask = np.isin(y, idx)
        if not mask.any():
            continue
        p = np.sort(probs[mask][:, idx], axis=1)[:, ::-1]
        gap = p[:, 0] - p[:, 1]
        best_two = np.argsort(-probs[mask][:, idx], axis=1)[:, :2]
        members_top3 = np.array([all(idx[k] in t for k in b) for t, b in zip(top3[mask], best_two)])
        group_top1 = np.isin(probs[mask].argmax(1), idx)
        rows["/".join(g)] = {"n": int(mask.sum()), "mean_gap": round(float(gap.mean()), 4),
                             "both_in_top3": round(float(members_top3.mean()), 4), "top1_in_group": round(float(group_top1.mean()), 4)}
        gaps.append(gap)
        both.append(members_top3)
        in_group.append(group_top1)
    gaps, both, in_group = np.concatenate(gaps), np.concatenate(both), np.concatenate(in_group)
    return {"n": int(len(gaps)), "mean_gap": round(float(gaps.mean()), 4), "median_gap": round(float(np.median(gaps)), 4),
            "both_in_top3": round(float(both.mean()), 4), "top1_in_group": round(float(in_group.mean()), 4), "groups": rows}


def adjust(probs: np.ndarray, prior: np.ndarray | None, power: float) -> np.ndarray:
    if prior is None or not power:
        return probs
    p = probs / prior[None, :] ** power
    return p / p.sum(1, keepdims=True)


def to_letters(probs62: np.ndarray) -> np.ndarray:
    p = probs62[:, 10:]
    return p / p.sum(1, keepdims=True)


def corrected_probabilities(p_all: dict, p_val, val, prior, power: float) -> tuple:
    """(hw62 all, hw62 letters, EMNIST validation all, EMNIST validation letters) probabilities of one network at
    one prior power, each restricted to its task (the validation ones None without validation data)."""
    letters_val = None if p_val is None else to_letters(adjust(p_val[val[1] >= 10], prior, power))
    return (adjust(p_all["all"], prior, power), to_letters(adjust(p_all["letters"], prior, power)),
            None if p_val is None else adjust(p_val, prior, power), letters_val)


def recipe_row(name: str, power: float, pa, pl, pva, pvl, sets, val) -> dict:
    row = {"recipe": name, "prior_power": power,
           "hw62_all": summary(pa, sets["all"][1], ALL),
           "hw62_letters": summary(pl, sets["letters"][1], labels_for("letters")),
           "lookalikes_hw62_letters": lookalike_gaps(pl, sets["letters"][1], labels_for("letters")),
           "lookalikes_hw62_all": lookalike_gaps(pa, sets["all"][1], ALL)}
    if pva is not None:
        row["emnist_val_all"] = summary(pva, val[1], ALL)
        row["emnist_val_letters"] = summary(pvl, val[1][val[1] >= 10] - 10, labels_for("letters"))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--powers", default="0,0.5,1")
    parser.add_argument("--skip-emnist", action="store_true")
    parser.add_argument("--ensemble", action="store_true", help="also score the training runs given as one averaged model")
    args = parser.parse_args(argv)
    from training.keras_runtime import KerasRuntime
    from training.evaluate import predict_all

    sets = {t: hw62(t) for t in ("letters", "all")}
    val = None if args.skip_emnist else emnist_validation("all")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    powers = [float(p) for p in args.powers.split(",")]
    members = []  # (prior-corrected probabilities per power) of each training run, for --ensemble
    runs = [path for path in map(Path, args.paths) if (path / "network.keras").exists()]
    for path in map(Path, args.paths):
        rows = []
        if (path / "network.keras").exists():
            record = json.loads((path / "train_record.json").read_text())
            prior = np.array(record["prior"])
            rt = KerasRuntime(path / "network.keras")
            p_all = {t: predict_all(rt, x) for t, (x, _) in sets.items()}
            p_val = predict_all(rt, val[0]) if val else None
            corrected = {power: corrected_probabilities(p_all, p_val, val, prior, power) for power in powers}
            members.append(corrected)
            rows += [recipe_row(str(path), power, *corrected[power], sets, val) for power in powers]
            if args.ensemble and len(members) == len(runs) > 1:
                name = "ensemble(" + " + ".join(map(str, runs)) + ")"
                rows += [recipe_row(name, power, *[None if parts[0] is None else np.mean(parts, 0)
                                                   for parts in zip(*(m[power] for m in members))], sets, val)
                         for power in powers]
        else:
            task = (read_metrics(path).get("task") or read_training(path)["task"])
            rt = KerasRuntime(path / KERAS_FILE)
            x, y = sets[task]
            probs = predict_all(rt, x)
            row = {"recipe": str(path), f"hw62_{task}": summary(probs, y, labels_for(task)),
                   f"lookalikes_hw62_{task}": lookalike_gaps(probs, y, labels_for(task))}
            if val and task == "all":
                row["emnist_val_all"] = summary(predict_all(rt, val[0]), val[1], ALL)
            if val and task == "letters":
                keep = val[1] >= 10
                row["emnist_val_letters"] = summary(predict_all(rt, val[0][keep]), val[1][keep] - 10, labels_for("letters"))
            rows.append(row)
        with open(RESULTS, "a") as f:
            for row in rows:
                row["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                f.write(json.dumps(row) + "\n")
                print(json.dumps(row))


if __name__ == "__main__":
    main()
