"""Would a distance in feature space refuse more doodles than the served "?" rule, without refusing more real
characters? Measures it; ships nothing.

    python -m training.compare_feature_distance all --validation runs/head_all_ens \
        --json benchmarks/results/refusal_feature_distance_all.json

The "?" head learns "none" from the doodle families it is shown. Distances need no negatives at all: a picture
far from every character the network has seen is none of them, whatever it is, so they might catch families
the head never saw. Three are measured on the features the served head reads (`members_features`):
- `maha`: the smallest Mahalanobis distance to a character's mean (one covariance shared by all characters);
- `rel_maha`: the same less the distance to the mean of all characters (relative Mahalanobis, for pictures
  near the characters' cloud but between them);
- `knn10`: one minus the cosine similarity to the 10th nearest of 20,000 training characters.
Means, covariance and neighbours come from EMNIST training-part characters of the task, a third as scanned,
a third re-drawn on the pad and a third photographed (`training.photo_renders`), as the validation split
holds all three. Each distance is calibrated on the head's validation split like any rule
(`evaluate_refusal.calibrate`): alone, to refuse the same 0.5% of its real characters, and added to the
served rule with a quarter or half of that budget again. Then measured on the sets of
`training.evaluate_refusal`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from handwriting.refusal import RefusalPolicy, refused_mask
from handwriting.tasks import labels_for

FIT_N, NEIGHBOURS, BANK = 30000, 10, 20000
BUDGET = 0.005
ADDED_SHARES = (0.25, 0.5)


def features_and_probabilities(folder: Path):
    """A function: 28x28 inputs -> (the features the "?" head reads, the served probabilities)."""
    import keras

    served = keras.saving.load_model(folder / "model.keras", compile=False)
    layer = next(x for x in served.layers if x.name in ("members_features", "none_features"))
    both = keras.Model(served.inputs, [layer.output, served.outputs[0]])

    def run(x):
        f, p = both.predict(np.asarray(x, np.float32).reshape(-1, 28, 28, 1), batch_size=512, verbose=0)
        return f.astype(np.float64), p
    return run


def fit_set(task: str, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """FIT_N training-part characters of `task` (labels in its order): scanned, re-drawn on the pad, photographed."""
    from training.emnist import from_all
    from training.emnist_cache import load
    from training.photo_renders import restyled_parallel

    index = from_all(task)
    data = load(None)
    pool = np.flatnonzero(~data["validation"] & (index[data["y"]] >= 0))
    pick = np.random.default_rng(seed).choice(pool, FIT_N, replace=False)
    x, y = data["x"][pick], index[data["y"][pick]]
    third = FIT_N // 3
    canvas, kept_c = restyled_parallel(x[:third], "canvas", seed + 1)
    photo, kept_p = restyled_parallel(x[third:2 * third], "photo", seed + 2)
    xs = np.concatenate([x[2 * third:], canvas[kept_c], photo[kept_p]]).astype(np.float32) / 255.0
    ys = np.concatenate([y[2 * third:], y[:third][kept_c], y[third:2 * third][kept_p]])
    return xs, ys


def whitening(centred: np.ndarray) -> np.ndarray:
    """W with |W^T v|^2 = v^T S^-1 v for the covariance S of `centred` (lightly shrunk so it inverts)."""
    cov = centred.T @ centred / len(centred)
    cov += 1e-3 * np.mean(np.diag(cov)) * np.eye(len(cov))
    return np.linalg.cholesky(np.linalg.inv(cov))


def distances(features: np.ndarray, labels: np.ndarray, classes: int, seed: int = 7):
    """A function: features -> {"maha", "rel_maha", "knn10"} scores, higher meaning farther from the characters."""
    means = np.stack([features[labels == c].mean(0) for c in range(classes)])
    w, w_all, centre = whitening(features - means[labels]), whitening(features - features.mean(0)), features.mean(0)
    mw = means @ w
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    bank = unit[np.random.default_rng(seed).choice(len(unit), min(BANK, len(unit)), replace=False)]

    def score(f):
        z = f @ w
        maha = ((z ** 2).sum(1, keepdims=True) - 2 * z @ mw.T + (mw ** 2).sum(1)[None]).min(1)
        to_all = (((f - centre) @ w_all) ** 2).sum(1)
        u = f / np.linalg.norm(f, axis=1, keepdims=True)
        knn = np.concatenate([-np.partition(-(u[i:i + 4096] @ bank.T), NEIGHBOURS - 1, axis=1)[:, NEIGHBOURS - 1]
                              for i in range(0, len(u), 4096)])
        return {"maha": maha, "rel_maha": maha - to_all, "knn10": 1.0 - knn}
    return score


def rules(val_scores: dict, val_served: np.ndarray, real: np.ndarray) -> dict:
    """name -> function(scores, served refusals) -> refusals, each threshold set on the validation split."""
    out = {"served rule": lambda s, served: served}
    for key, v in val_scores.items():
        alone = np.quantile(v[real], 1 - BUDGET)
        out[f"{key} alone"] = lambda s, served, key=key, t=alone: s[key] >= t
        passed = np.sort(v[real & ~val_served])[::-1]  # real characters the served rule lets through
        for share in ADDED_SHARES:
            extra = int(round(share * BUDGET * real.sum()))
            t = passed[extra] if extra < len(passed) else np.inf
            out[f"served rule or {key} (+{share:g} of the budget)"] = \
                lambda s, served, key=key, t=t: served | (s[key] > t)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["letters", "all"])
    parser.add_argument("--model-dir", default=None, help="default: models/<task>")
    parser.add_argument("--validation", required=True, help="the head run whose validation.npz calibrated the model")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from handwriting.config import PROJECT_DIR
    from training.evaluate_refusal import negative_sets, real_sets, validation_split

    folder = Path(args.model_dir) if args.model_dir else PROJECT_DIR / "models" / args.task
    n = len(labels_for(args.task))
    run, policy = features_and_probabilities(folder), RefusalPolicy.load(folder)
    fit_x, fit_y = fit_set(args.task)
    score = distances(run(fit_x)[0], fit_y, n)
    vx, vy = validation_split(Path(args.validation), args.task)
    vf, vp = run(vx)
    real = (vy >= 0) & (vy < n)
    val = (score(vf), refused_mask(vp, policy))
    measured = {}
    for s in real_sets(args.task) + negative_sets(args.task):
        f, p = run(s.x)
        measured[s.name] = (score(f), refused_mask(p, policy), getattr(s, "groups", None),
                            getattr(s, "group_names", None))
    result = {}
    for name, rule in rules(*val, real).items():
        refused_val = rule(*val)
        row = {"validation_real_refused": round(float(refused_val[real].mean()), 5),
               "validation_negative_refused": round(float(refused_val[~real].mean()), 4)}
        for set_name, (s, served, groups, group_names) in measured.items():
            refused = rule(s, served)
            row[set_name] = round(float(refused.mean()), 4)
            if groups is not None and set_name == "doodles":
                row["doodles_by_family"] = {g: round(float(refused[groups == i].mean()), 3)
                                            for i, g in enumerate(group_names)}
        result[name] = row
        print(name, {k: v for k, v in row.items() if k != "doodles_by_family"})
    if args.json:
        from benchmarks.measure import save_result

        save_result({"task": args.task, "model": str(folder), "fit_characters": len(fit_y), "budget": BUDGET,
                     "refused": result}, Path(args.json), indent=1)
    return result


if __name__ == "__main__":
    main()
