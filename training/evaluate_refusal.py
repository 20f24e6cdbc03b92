"""Measure "?" : how often a model folder refuses what is none of its task's characters, and what it is not
allowed to refuse (real characters), with its refusal.json or with any other policy.

    python -m training.evaluate_refusal digits --model-dir models/digits [--methods] [--json out.json]

Sets, none of them trained on and none used to set a threshold (but for the last two checks):
- real characters of the task (the same sets as `training.evaluate`, and for digits and all MNIST test also
  through the upload preprocessing): how many are refused, and accuracy on the accepted ones;
- checks: EMNIST validation characters re-drawn on the sketchpad and photographed (`restyled_validation`);
  the thresholds are set on the validation tenth, so these say how a style is treated, not how new writers are;
- doodles of `training.doodles.EVAL_FAMILIES` (scribbles, faces, stars, spirals, hatching, ticks, arrows),
  families the models never saw, drawn and preprocessed as a sketch would be; every task;
- digits task: letters that look like no digit (`train_refusal.NEGATIVE_LETTERS`), photographed (hw62_dev)
  and EMNIST's validation tenth (other images of the writers whose letters were negatives in training).

`--methods` compares refusal rules on one model, each calibrated on the model's validation split
(training data kept aside, `validation.npz`), never on these sets: the none unit at one half; a threshold
on the none unit; a threshold on the top character's probability; both.

`--sweep` keeps the model's own rule and sets its thresholds on the same validation split for several budgets
of real characters refused: what each target costs the other (doodles refused against photos refused) on
these networks and this head, with every threshold still chosen away from the evaluation sets.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for
from handwriting.model_folder import KERAS_FILE
from handwriting.refusal import RefusalPolicy, refused_mask
from training.eval_sets import EvalSet, predict_all

EVAL_DOODLES = 2100  # 300 per held-out family
EVAL_DOODLE_SEED = 7
CACHE = Path("data") / "refusal_eval"
REAL_REFUSAL_BUDGET = 0.005  # validation real characters a calibrated policy may refuse (target: 1% on new data)
METHODS = ("none@0.5", "none", "confidence", "both")


@dataclass
class NegativeSet:
    name: str
    x: np.ndarray  # float32 N x 28 x 28
    groups: np.ndarray | None  # per-image group index (doodle family, letter)
    group_names: list[str]
    description: str


def preprocessing_digest() -> str:
    """A short digest of the code that turns a picture into the model input (decoding, preprocessing) and
    of the renders made from training characters: a cached set made by other code is not read back."""
    import hashlib

    import handwriting.decoding
    import handwriting.preprocessing
    import training.photo_renders

    digest = hashlib.sha256()
    for module in (handwriting.decoding, handwriting.preprocessing, training.photo_renders):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:10]


def _cached(name: str, make):
    """An evaluation set through the preprocessing, kept in data/refusal_eval (photos take a while), under
    a name that carries `preprocessing_digest`: a change to that code makes the sets again."""
    from handwriting.config import PROJECT_DIR

    path = PROJECT_DIR / CACHE / f"{name}_{preprocessing_digest()}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    arrays = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return arrays


def real_sets(task: str, data_dir=None) -> list[EvalSet]:
    """The task's real characters: the sets of `training.evaluate` (cached), MNIST test uploaded (digits, all),
    and EMNIST validation characters drawn on the pad and photographed (`restyled_validation`)."""
    from training import eval_sets as evaluate
    from training.data import load_mnist
    from training.eval_sets import preprocess_all

    def pack(sets):
        return {**{f"{s.name}__x": s.x for s in sets}, **{f"{s.name}__y": s.y for s in sets},
                "names": np.array([s.name for s in sets]), "descriptions": np.array([s.description for s in sets])}

    def unpack(arrays):
        return [EvalSet(str(n), arrays[f"{n}__x"], arrays[f"{n}__y"], str(d))
                for n, d in zip(arrays["names"], arrays["descriptions"])]

    def make_digits():
        sets = evaluate.digit_sets(data_dir)
        _, test = load_mnist(data_dir)
        x, kept = preprocess_all(list(test.x), "MNIST test through the upload preprocessing")
        sets.insert(1, EvalSet("mnist_test_upload", x[kept], test.y[kept],
                               "MNIST test set through the upload preprocessing (to_model_input), as a user's upload"))
        return pack(sets)

    emnist = evaluate.emnist_validation_set(task)
    if task == "digits":
        return unpack(_cached("real_digits", make_digits)) + restyled_validation(task, emnist)
    hw62 = unpack(_cached(f"real_hw62_{task}", lambda: pack([evaluate.hw62_set(task, data_dir)])))
    mnist = []
    if task == "all":  # the digits of the 62-class task must not be refused either: as published, and uploaded
        _, test = load_mnist(data_dir)
        mnist = [EvalSet("mnist_test", test.x.astype(np.float32) / 255.0, test.y,
                         f"MNIST test set, {len(test.y):,} digits, as published (already 28x28)")]
        mnist += [s for s in unpack(_cached("real_digits", make_digits)) if s.name == "mnist_test_upload"]
    return hw62 + ([emnist] if emnist is not None else []) + mnist + restyled_validation(task, emnist)


RESTYLED_N, RESTYLED_SEED = 6000, 4242


def restyled_validation(task: str, emnist: EvalSet | None, cached: bool = True) -> list[EvalSet]:
    """EMNIST validation characters (a seeded 6,000) re-drawn on the sketchpad and photographed
    (`training.photo_renders`), through the upload path: how often a character is refused for how it was
    drawn. The validation tenth is what the thresholds are set on, so these are checks, not new writers.
    `emnist`: the task's EMNIST validation set (`eval_sets.emnist_validation_set`), None without the cache.
    `cached`: keep them in data/refusal_eval (the evaluation of the data folder's EMNIST); False makes them
    afresh from `emnist`, whatever it holds (the retraining gate, which may be given another cache)."""
    from training.photo_renders import restyled_parallel

    if emnist is None:
        return []
    pick = np.sort(np.random.default_rng(RESTYLED_SEED).choice(len(emnist.y), min(RESTYLED_N, len(emnist.y)), replace=False))
    chars = np.clip(np.rint(emnist.x[pick] * 255), 0, 255).astype(np.uint8)
    sets = []
    for style, words in (("canvas", "re-drawn as crisp strokes on the sketchpad"), ("photo", "photographed pen on paper")):
        def make(style=style):
            x, kept = restyled_parallel(chars, style, RESTYLED_SEED)
            return {"x": x[kept], "y": emnist.y[pick][kept]}
        d = _cached(f"emnist_val_{style}_{task}", make) if cached else make()
        sets.append(EvalSet(f"emnist_val_{style}", d["x"].astype(np.float32) / 255.0, d["y"],
                            f"{len(d['y']):,} EMNIST validation characters {words}, through the upload path"))
    return sets


def negative_sets(task: str, data_dir=None, cache=None) -> list[NegativeSet]:
    """Held-out doodle families (every task) and, for digits, letters that look like no digit."""
    from training import doodles
    from training.none_data import NEGATIVE_LETTERS, doodles as doodle_cache

    x, fam = doodle_cache("eval", EVAL_DOODLES, EVAL_DOODLE_SEED)
    sets = [NegativeSet("doodles", x.astype(np.float32) / 255.0, fam, list(doodles.EVAL_FAMILIES),
                        f"{len(x):,} generated doodles of families never trained on ({', '.join(doodles.EVAL_FAMILIES)}), "
                        "through the sketch preprocessing")]
    if task != "digits":
        return sets
    from training.data import load_hw62_paths
    from training.eval_sets import preprocess_all

    def make():
        photos = [(p, c) for p, c in load_hw62_paths(data_dir) if c in NEGATIVE_LETTERS]
        px, kept = preprocess_all([p for p, _ in photos], "hw62_dev letters that look like no digit")
        return {"x": px[kept], "g": np.array([NEGATIVE_LETTERS.index(c) for _, c in photos])[kept]}

    photos = _cached("hw62_nondigit_letters", make)
    sets.append(NegativeSet("hw62_letters", photos["x"], photos["g"], list(NEGATIVE_LETTERS),
                            f"{len(photos['x']):,} hw62_dev photos of letters that look like no digit "
                            f"({''.join(NEGATIVE_LETTERS)}), evaluation only"))
    from training.emnist_cache import load
    from training.none_data import negative_letter_mask

    data = load(cache)
    keep = negative_letter_mask(data) & data["validation"]
    sets.append(NegativeSet("emnist_val_letters", data["x"][keep].astype(np.float32) / 255.0, None, [],
                            f"{int(keep.sum()):,} EMNIST validation-tenth letters that look like no digit (never "
                            "trained on; the same writers as the training negatives)"))
    return sets


def real_scores(probs: np.ndarray, s: EvalSet, policy: RefusalPolicy, n_labels: int) -> dict:
    refused = refused_mask(probs, policy)
    pred = probs[:, :n_labels].argmax(1)
    correct = pred == s.y
    accepted = ~refused
    return {"n": int(len(s.y)), "refused": round(float(refused.mean()), 5),
            "accuracy": round(float(correct.mean()), 5),
            "accepted_accuracy": round(float(correct[accepted].mean()) if accepted.any() else 0.0, 5),
            "description": s.description}


def negative_scores(probs: np.ndarray, s: NegativeSet, policy: RefusalPolicy) -> dict:
    refused = refused_mask(probs, policy)
    out = {"n": int(len(refused)), "refused": round(float(refused.mean()), 5), "description": s.description}
    if s.groups is not None:
        out["by_group"] = {name: round(float(refused[s.groups == g].mean()), 4)
                           for g, name in enumerate(s.group_names) if (s.groups == g).any()}
    return out


def measure(task: str, runtime, policy: RefusalPolicy, data_dir=None, cache=None, reals=None, negatives=None) -> dict:
    """{"real": {set: scores}, "negative": {set: scores}} of `policy` on the model `runtime`."""
    n = len(labels_for(task))
    reals = real_sets(task, data_dir) if reals is None else reals
    negatives = negative_sets(task, data_dir, cache) if negatives is None else negatives
    return {"real": {s.name: real_scores(predict_all(runtime, s.x), s, policy, n) for s in reals},
            "negative": {s.name: negative_scores(predict_all(runtime, s.x), s, policy) for s in negatives}}


def calibrate(val_probs: np.ndarray, val_real: np.ndarray, method: str, none_unit: bool,
              budget: float = REAL_REFUSAL_BUDGET, details: dict | None = None) -> RefusalPolicy:
    """The policy of `method` whose thresholds refuse `budget` of the validation real characters.

    methods: "none@0.5" (uncalibrated: refuse when the none unit has half the probability or more), "none" (a
    threshold on the none unit), "confidence" (a threshold on the top character's probability), "both" (half
    the budget each)."""
    real = val_probs[val_real]
    top = real[:, :-1].max(1) if none_unit else real.max(1)
    none = real[:, -1] if none_unit else None
    info = {"method": method, "calibration": {"real_refusal_budget": budget, **(details or {})}}
    if method == "none@0.5":
        policy = RefusalPolicy(none_unit=True, none_threshold=0.5, details=info)
    elif method == "none":
        policy = RefusalPolicy(none_unit=True, none_threshold=float(np.quantile(none, 1 - budget)), details=info)
    elif method == "confidence":
        policy = RefusalPolicy(none_unit=none_unit, none_threshold=1.0, min_confidence=float(np.quantile(top, budget)),
                               details=info)
    elif method == "both":
        policy = RefusalPolicy(none_unit=True, none_threshold=float(np.quantile(none, 1 - budget / 2)),
                               min_confidence=float(np.quantile(top, budget / 2)), details=info)
    else:
        raise ValueError(f"unknown method {method!r}")
    refused = refused_mask(val_probs, policy)
    policy.details["calibration"].update({
        "validation_real": int(val_real.sum()), "validation_negative": int((~val_real).sum()),
        "validation_real_refused": round(float(refused[val_real].mean()), 5),
        "validation_negative_refused": round(float(refused[~val_real].mean()), 5) if (~val_real).any() else None})
    return policy


LINE_BUDGET = 0.001  # per character in a line: a 6-digit number then carries a "?" about 0.6% of the time


def with_line_thresholds(policy: RefusalPolicy, val_probs: np.ndarray, val_real: np.ndarray,
                         budget: float = LINE_BUDGET) -> RefusalPolicy:
    """`policy` plus its `in_a_line` thresholds (`RefusalPolicy.for_lines`): the same rule, calibrated on the
    same validation split to refuse `budget` of its real characters."""
    line = calibrate(val_probs, val_real, policy.details["method"], policy.none_unit, budget)
    return RefusalPolicy(policy.none_unit, policy.none_threshold, policy.min_confidence, {
        **{k: v for k, v in policy.details.items() if k != "in_a_line"},
        "in_a_line": {"none_threshold": line.none_threshold, "min_confidence": line.min_confidence,
                      **line.details["calibration"]}})


def validation_split(folder: Path, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(x float32, y) of `folder`'s validation.npz (training data kept aside by its training script), y in
    the task's labels with len(labels) meaning "none"."""
    with np.load(Path(folder) / "validation.npz") as f:
        head_format = "y_alt" in f.files
    if head_format:  # training.refusal_head's split, in the "all" order
        from training.refusal_head import validation_for

        return validation_for(task, Path(folder))
    with np.load(Path(folder) / "validation.npz") as f:
        return f["x"].astype(np.float32) / 255.0, f["y"].astype(np.int64)


def summary_line(result: dict) -> str:
    real = ", ".join(f"{k} {v['refused']:.2%} refused / acc {v['accepted_accuracy']:.2%}" for k, v in result["real"].items())
    neg = ", ".join(f"{k} {v['refused']:.1%}" for k, v in result["negative"].items())
    return f"real: {real}\n    negatives refused: {neg}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["digits", "letters", "all"])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--validation", default=None, help="folder holding the validation.npz to calibrate on "
                        "(default: the model folder)")
    parser.add_argument("--methods", action="store_true", help="compare refusal rules, each calibrated on validation.npz")
    parser.add_argument("--calibrate", default=None, choices=[*METHODS, "best"],
                        help="calibrate this rule on validation.npz and write the model folder's refusal.json; "
                        "best: the rule that refuses most of the validation negatives within the same budget")
    parser.add_argument("--budget", type=float, default=REAL_REFUSAL_BUDGET,
                        help="share of validation real characters a calibrated rule may refuse")
    parser.add_argument("--line-budget", type=float, default=None, help="(re)calibrate the model folder's thresholds "
                        "for characters in a line of writing to refuse this share of validation real characters "
                        f"(the reader's; {LINE_BUDGET} with --calibrate), keeping its own thresholds")
    parser.add_argument("--sweep", type=float, nargs="+", default=None, metavar="BUDGET",
                        help="measure the model's own rule calibrated on validation.npz to each of these budgets")
    parser.add_argument("--json", default=None, help="write the measurements here")
    args = parser.parse_args(argv)

    from training.keras_runtime import KerasRuntime

    folder = Path(args.model_dir)
    runtime = KerasRuntime(folder / KERAS_FILE)
    n = len(labels_for(args.task))
    none_unit = runtime.num_classes == n + 1
    reals, negatives = real_sets(args.task, args.data_dir), negative_sets(args.task, args.data_dir)
    results = {}
    methods = [args.calibrate] if args.calibrate else (
        [m for m in METHODS if none_unit or m == "confidence"] if args.methods else [])
    if args.sweep or methods:
        x, y = validation_split(Path(args.validation) if args.validation else folder, args.task)
        probs, real = predict_all(runtime, x), (y >= 0) & (y < n)
        if args.sweep:  # the model's own rule at each budget; the served thresholds stay
            method = RefusalPolicy.load(folder).details["method"]
            runs = [(f"{method} @ {budget:g}", method, budget) for budget in args.sweep]
        else:
            if args.calibrate == "best":  # chosen on the validation split only, never on the evaluation sets
                candidates = {m: calibrate(probs, real, m, none_unit, args.budget)
                              for m in METHODS if m != "none@0.5" and (none_unit or m == "confidence")}
                methods = [max(candidates, key=lambda m: candidates[m].details["calibration"]["validation_negative_refused"])]
                print("validation negatives refused: " + ", ".join(
                    f"{m} {p.details['calibration']['validation_negative_refused']:.2%}" for m, p in candidates.items()))
            runs = [(method, method, args.budget) for method in methods]
        for name, method, budget in runs:
            policy = calibrate(probs, real, method, none_unit, budget)
            results[name] = measure(args.task, runtime, policy, args.data_dir, reals=reals, negatives=negatives)
            results[name]["policy"] = {"none_unit": policy.none_unit, "none_threshold": policy.none_threshold,
                                       "min_confidence": policy.min_confidence, **policy.details}
            print(f"{name}: {summary_line(results[name])}")
            if args.calibrate and not args.sweep:
                policy = with_line_thresholds(policy, probs, real, args.line_budget or LINE_BUDGET)
                print(f"wrote {policy.save(folder)}")
    elif args.line_budget is not None:  # the served thresholds stay; only those for lines are set
        x, y = validation_split(Path(args.validation) if args.validation else folder, args.task)
        policy = with_line_thresholds(RefusalPolicy.load(folder), predict_all(runtime, x), (y >= 0) & (y < n),
                                      args.line_budget)
        print(f"in a line: {policy.details['in_a_line']}\nwrote {policy.save(folder)}")
    else:
        policy = RefusalPolicy.load(folder)
        results["policy"] = measure(args.task, runtime, policy, args.data_dir, reals=reals, negatives=negatives)
        print(summary_line(results["policy"]))
    if args.json:
        from benchmarks.measure import save_result

        save_result(results, Path(args.json), indent=1)


if __name__ == "__main__":
    main()
