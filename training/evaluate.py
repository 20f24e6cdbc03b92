"""Evaluate a model folder and write its metrics, confusion matrices and model card.

    python -m training.evaluate digits [--model-dir models/digits] [--data-dir ../shared/datasets]

Every figure is measured on data the model never trained on: the MNIST test set (already in the
model's 28x28 format), and, through the app's own preprocessing as if a user had uploaded them,
the USPS training split (other writers, other scanner) and the digits of the hw62_dev photo set.
Writes `metrics.json` (machine-readable), `confusion_*.png` and `README.md` (the model card).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from handwriting import model_folder
from handwriting.tasks import LOOKALIKES, labels_for
from handwriting.model_folder import CARD_FILE, KERAS_FILE, METRICS_FILE
from handwriting.preprocessing import InvalidImageError, to_model_input
from training import model_card
from training.data import load_hw62_paths, load_mnist, load_usps

DEFAULT_VERSION = "1.0.0"


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


def scores(probs: np.ndarray, y: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Accuracy, top-3 accuracy, per-class accuracy and the confusion matrix."""
    pred = probs.argmax(1)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    n = len(labels)
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = {labels[k]: round(float(confusion[k, k] / max(confusion[k].sum(), 1)), 4) for k in range(n)}
    return {
        "n": int(len(y)),
        "accuracy": round(float((pred == y).mean()), 5),
        "top3_accuracy": round(float((top3 == y[:, None]).any(1).mean()), 5),
        "per_class_accuracy": per_class,
        "confusion": confusion.tolist(),
    }


def save_confusion_png(confusion: np.ndarray, labels, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(figsize=(0.55 * n + 2, 0.55 * n + 1.5), dpi=90)
    shown = np.log1p(confusion)
    ax.imshow(shown, cmap="Blues")
    for i in range(n):
        for j in range(n):
            if confusion[i, j]:
                ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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


def score_set(probs: np.ndarray, eval_set: EvalSet, labels: tuple[str, ...]) -> dict:
    """`scores` plus the set's description (and how many inputs its preprocessing refused)."""
    result = scores(probs, eval_set.y, labels)
    if eval_set.refused is not None:
        result["refused"] = eval_set.refused
    result["description"] = eval_set.description
    return result


def evaluate_digits(runtime, data_dir) -> dict[str, dict]:
    labels = labels_for("digits")
    return {s.name: score_set(predict_all(runtime, s.x), s, labels) for s in digit_sets(data_dir)}


def _fold(labels: tuple[str, ...], groups) -> np.ndarray:
    """For each class index, one representative index per union of overlapping groups (O/o/0, o/O)."""
    out = np.arange(len(labels))
    for group in groups:
        roots = {int(out[labels.index(c)]) for c in group if c in labels}
        if roots:
            out[np.isin(out, list(roots))] = min(roots)
    return out


def character_scores(probs: np.ndarray, eval_set: EvalSet, labels: tuple[str, ...]) -> dict:
    """`score_set` plus what letters need: case-insensitive accuracy (a/A count as one), accuracy with
    every look-alike group folded (adds 0/O, 1/l/I), and each group's figures (capitals, lowercase, digits)."""
    result = score_set(probs, eval_set, labels)
    y, pred = eval_set.y, probs.argmax(1)
    case = _fold(labels, [tuple({c.upper(), c.lower()}) for c in labels if c.isalpha()])
    looks = _fold(labels, LOOKALIKES + tuple(tuple({c.upper(), c.lower()}) for c in labels if c.isalpha()))
    top3 = np.argsort(-probs, axis=1)[:, :3]
    result["case_insensitive_accuracy"] = round(float((case[pred] == case[y]).mean()), 5)
    result["lookalike_insensitive_accuracy"] = round(float((looks[pred] == looks[y]).mean()), 5)
    kinds = {"capitals": str.isupper, "lowercase": str.islower, "digits": str.isdigit}
    result["groups"] = {}
    for kind, test in kinds.items():
        members = np.array([test(labels[v]) for v in y])
        if members.any():
            result["groups"][kind] = {
                "n": int(members.sum()),
                "accuracy": round(float((pred[members] == y[members]).mean()), 5),
                "case_insensitive_accuracy": round(float((case[pred[members]] == case[y[members]]).mean()), 5),
                "top3_accuracy": round(float((top3[members] == y[members, None]).any(1).mean()), 5),
            }
    return result


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


def evaluate_letters(runtime, data_dir) -> dict[str, dict]:
    labels = labels_for("letters")
    sets = [hw62_set("letters", data_dir)]
    emnist = emnist_validation_set("letters")
    if emnist is not None:
        sets.append(emnist)
    return {s.name: character_scores(predict_all(runtime, s.x), s, labels) for s in sets}


def evaluate_all(runtime, data_dir) -> dict[str, dict]:
    """All 62 hw62 photos, and MNIST test as a check that the digits kept what MNIST taught them."""
    labels = labels_for("all")
    sets = [hw62_set("all", data_dir)]
    _, test = load_mnist(data_dir)
    sets.append(EvalSet("mnist_test", test.x.astype(np.float32) / 255.0, test.y,
                        f"MNIST test set, {len(test.y):,} digits, as published (already 28x28)"))
    emnist = emnist_validation_set("all")
    if emnist is not None:
        sets.append(emnist)
    return {s.name: character_scores(predict_all(runtime, s.x), s, labels) for s in sets}


EVALUATORS = {"digits": evaluate_digits, "letters": evaluate_letters, "all": evaluate_all}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(EVALUATORS))
    parser.add_argument("--model-dir", default=None, help="model folder (default: models/<task>)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $HANDWRITING_DATA_DIR or ../shared/datasets)")
    parser.add_argument("--version", default=None, help=f"version to record (default: keep the folder's, else {DEFAULT_VERSION})")
    args = parser.parse_args(argv)

    from training.keras_runtime import KerasRuntime

    folder = Path(args.model_dir) if args.model_dir else model_folder.bundled_folder(args.task)
    runtime = KerasRuntime(folder / KERAS_FILE)
    previous = model_folder.read_metrics(folder)
    started = time.time()
    results = EVALUATORS[args.task](runtime, args.data_dir)
    write_metrics(folder, args.task, results, args.version or previous.get("version", DEFAULT_VERSION),
                  time.time() - started)
    for name, result in results.items():
        extra = f"  case-insensitive {result['case_insensitive_accuracy']:.2%}" if "case_insensitive_accuracy" in result else ""
        print(f"{name:>14}: accuracy {result['accuracy']:.4%}  top-3 {result['top3_accuracy']:.4%}{extra}  (n={result['n']})")
        for kind, g in result.get("groups", {}).items():
            print(f"{'':>16}{kind}: {g['accuracy']:.2%}, case-insensitive {g['case_insensitive_accuracy']:.2%}, top-3 {g['top3_accuracy']:.2%} (n={g['n']})")
    print(f"wrote {folder / METRICS_FILE} and {folder / CARD_FILE}")


def write_metrics(folder: Path, task: str, results: dict[str, dict], version: str, seconds: float) -> dict:
    """Write a model folder's `metrics.json`, confusion matrices and model card from measured results."""
    labels = labels_for(task)
    for name, result in results.items():
        save_confusion_png(np.array(result["confusion"]), labels, f"{task}: {name} ({result['accuracy']:.2%})",
                           folder / f"confusion_{name}.png")
    training = model_folder.read_training(folder)
    metrics = {
        "task": task,
        "version": version,
        "labels": list(labels),
        "input": "28x28x1 float32 in [0, 1], white ink on black, from handwriting.preprocessing.to_model_input",
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "evaluation_seconds": round(seconds, 1),
        "results": results,
    }
    metrics["headline"] = model_card.headline(metrics)
    model_folder.write_metrics(folder, metrics)
    (folder / CARD_FILE).write_text(model_card.render(metrics, training))
    return metrics


if __name__ == "__main__":
    main()
