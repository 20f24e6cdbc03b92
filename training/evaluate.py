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
from pathlib import Path

import numpy as np

from handwriting import model_folder
from handwriting.tasks import LOOKALIKES, labels_for
from handwriting.model_folder import CARD_FILE, KERAS_FILE, METRICS_FILE
from training import model_card
from training.data import load_mnist
from training.eval_sets import (  # noqa: F401  (also read from here by older callers)
    EvalSet, digit_sets, emnist_validation_set, hw62_set, predict_all, preprocess_all)

DEFAULT_VERSION = "1.0.0"


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

    from handwriting.refusal import RefusalPolicy
    from training.keras_runtime import KerasRuntime

    folder = Path(args.model_dir) if args.model_dir else model_folder.bundled_folder(args.task)
    runtime = KerasRuntime(folder / KERAS_FILE)
    policy = RefusalPolicy.load(folder)
    previous = model_folder.read_metrics(folder)
    started = time.time()
    results = EVALUATORS[args.task](characters_only(runtime, policy), args.data_dir)
    refusal = None
    if policy != RefusalPolicy.never():
        from training.evaluate_refusal import measure

        refusal = {"policy": {"none_unit": policy.none_unit, "none_threshold": policy.none_threshold,
                              "min_confidence": policy.min_confidence, **policy.details},
                   **measure(args.task, runtime, policy, args.data_dir)}
    write_metrics(folder, args.task, results, args.version or previous.get("version", DEFAULT_VERSION),
                  time.time() - started, refusal)
    for name, result in results.items():
        extra = f"  case-insensitive {result['case_insensitive_accuracy']:.2%}" if "case_insensitive_accuracy" in result else ""
        print(f"{name:>14}: accuracy {result['accuracy']:.4%}  top-3 {result['top3_accuracy']:.4%}{extra}  (n={result['n']})")
        for kind, g in result.get("groups", {}).items():
            print(f"{'':>16}{kind}: {g['accuracy']:.2%}, case-insensitive {g['case_insensitive_accuracy']:.2%}, top-3 {g['top3_accuracy']:.2%} (n={g['n']})")
    if refusal:
        from training.evaluate_refusal import summary_line

        print("refusal (\"?\"): " + summary_line(refusal))
    print(f"wrote {folder / METRICS_FILE} and {folder / CARD_FILE}")


def characters_only(runtime, policy):
    """The runtime as a plain N-class model: a model with a none unit loses it (its accuracy, top 3 and
    confusion are over the task's characters; its refusals are measured apart)."""
    if not policy.none_unit:
        return runtime
    return lambda batch: runtime(batch)[:, :-1]


def write_metrics(folder: Path, task: str, results: dict[str, dict], version: str, seconds: float,
                  refusal: dict | None = None) -> dict:
    """Write a model folder's `metrics.json`, confusion matrices and model card from measured results
    (and, for a model that answers "?", its refusal figures from `training.evaluate_refusal`)."""
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
    if refusal:
        metrics["refusal"] = refusal
    metrics["headline"] = model_card.headline(metrics)
    model_folder.write_metrics(folder, metrics)
    (folder / CARD_FILE).write_text(model_card.render(metrics, training))
    return metrics


if __name__ == "__main__":
    main()
