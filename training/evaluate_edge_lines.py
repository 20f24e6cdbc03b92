"""What dropping a photo's ruled line or box edge (`handwriting.preprocessing.edge_lines`) does to each model.

    python -m training.evaluate_edge_lines --out benchmarks/results/edge_lines.json

For each task, the served model reads the same pictures through the upload path twice, with and without the
step:

- characters the model never trained on (digits: MNIST test; letters, all: the EMNIST validation tenth)
  photographed on ruled paper (`training.photo_renders`, style "ruled"): what the step is for;
- the same characters photographed on plain paper: a photo the step should leave alone;
- the task's hw62_dev photos (evaluation only), and for digits USPS (scans: flat paper, left alone).

Reports accuracy and the share answered "?" under the model's own refusal rule.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from handwriting.preprocessing import InvalidImageError, _work_size, center_in_frame, clean_ink, ink_map, to_grey, to_model_input
from handwriting.refusal import RefusalPolicy, refused_mask
from handwriting.tasks import labels_for


def without_edge_lines(value) -> np.ndarray:
    """`to_model_input` as it was before the step: the comparison's baseline."""
    return center_in_frame(clean_ink(ink_map(_work_size(to_grey(value)))))


def both_ways(pictures, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(before, after, y) for the pictures both paths accept."""
    before, after, kept = [], [], []
    for picture in pictures:
        try:
            before.append(without_edge_lines(picture))
            after.append(to_model_input(picture))
            kept.append(True)
        except InvalidImageError:
            kept.append(False)
    return np.stack(before), np.stack(after), labels[np.array(kept)]


def photographed(chars: np.ndarray, ruled: bool, seed: int) -> list[np.ndarray]:
    from training.photo_renders import photo_of

    rng = np.random.default_rng(seed)
    return [photo_of(c, rng, ruled=ruled) for c in chars]


def task_sets(task: str, data_dir, n: int, seed: int) -> dict[str, tuple[list, np.ndarray]]:
    from training.data import load_hw62_paths, load_mnist, load_usps

    labels = labels_for(task)
    if task == "digits":
        _, test = load_mnist(data_dir)
        pick = np.random.default_rng(seed).choice(len(test.y), n, replace=False)
        chars, y, source = test.x[pick], test.y[pick], "MNIST test"
    else:
        from training.eval_sets import emnist_validation_set

        emnist = emnist_validation_set(task)
        pick = np.random.default_rng(seed).choice(len(emnist.y), n, replace=False)
        chars = np.clip(np.rint(emnist.x[pick] * 255), 0, 255).astype(np.uint8)
        y, source = emnist.y[pick], "EMNIST validation"
    sets = {f"{source} photographed on ruled paper": (photographed(chars, True, seed), y),
            f"{source} photographed on plain paper": (photographed(chars, False, seed), y)}
    photos = [(p, c) for p, c in load_hw62_paths(data_dir) if c in labels]
    sets["hw62_dev photos"] = ([p for p, _ in photos], np.array([labels.index(c) for _, c in photos]))
    if task == "digits":
        usps = load_usps(data_dir)
        sets["USPS scans"] = (list(usps.x), usps.y.astype(np.int64))
    return sets


def scores(runtime, policy: RefusalPolicy, x: np.ndarray, y: np.ndarray, n_labels: int) -> dict:
    from training.eval_sets import predict_all

    probs = predict_all(runtime, x)
    return {"accuracy": round(float((probs[:, :n_labels].argmax(1) == y).mean()), 5),
            "refused": round(float(refused_mask(probs, policy).mean()), 5)}


def evaluate(task: str, data_dir, n: int, seed: int) -> dict:
    from handwriting.model_folder import bundled_folder, KERAS_FILE
    from training.keras_runtime import KerasRuntime

    folder = bundled_folder(task)
    runtime, policy, n_labels = KerasRuntime(folder / KERAS_FILE), RefusalPolicy.load(folder), len(labels_for(task))
    out = {}
    for name, (pictures, y) in task_sets(task, data_dir, n, seed).items():
        before, after, y = both_ways(pictures, y)
        changed = int((np.abs(before - after).max(axis=(1, 2)) > 0).sum())
        out[name] = {"n": int(len(y)), "inputs_changed": changed,
                     "before": scores(runtime, policy, before, y, n_labels),
                     "after": scores(runtime, policy, after, y, n_labels)}
        print(f"{task:8s} {name:48s} n={len(y):5d} changed={changed:4d} "
              f"accuracy {out[name]['before']['accuracy']:.2%} -> {out[name]['after']['accuracy']:.2%}, "
              f'"?" {out[name]["before"]["refused"]:.2%} -> {out[name]["after"]["refused"]:.2%}')
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["digits", "letters", "all"])
    parser.add_argument("--n", type=int, default=3000, help="characters photographed per task (default 3000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="benchmarks/results/edge_lines.json")
    args = parser.parse_args(argv)
    report = {task: evaluate(task, args.data_dir, args.n, args.seed) for task in args.tasks}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
