"""Evaluate a model folder and write its metrics, confusion matrices and model card.

    python -m training.evaluate digits [--model-dir models/digits] [--data-dir ../shared/datasets]

Every figure is measured on data the model never trained on: the MNIST test set (already in the
model's 28x28 format), and, through the app's own preprocessing as if a user had uploaded them,
the USPS training split (other writers, other scanner) and the digits of the hw62_dev photo set.
Writes `metrics.json` (machine-readable), `confusion_*.png` and `README.md` (the model card).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from handwriting.labels import labels_for
from handwriting.preprocessing import InvalidImageError, to_model_input
from handwriting.store import CARD_FILE, METRICS_FILE, WEIGHTS_FILE
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


def evaluate_digits(runtime, data_dir) -> dict[str, dict]:
    labels = labels_for("digits")
    results = {}
    _, test = load_mnist(data_dir)
    results["mnist_test"] = scores(predict_all(runtime, test.x.astype(np.float32) / 255.0), test.y, labels)
    results["mnist_test"]["description"] = "MNIST test set, 10,000 digits, as published (already 28x28)"

    usps = load_usps(data_dir)
    x, kept = preprocess_all(list(usps.x), "USPS through the app's preprocessing")
    results["usps"] = scores(predict_all(runtime, x[kept]), usps.y[kept], labels)
    results["usps"]["refused"] = int((~kept).sum())
    results["usps"]["description"] = "USPS training split, 7,291 digits, 16x16 scans, through the upload preprocessing"

    photos = [(p, c) for p, c in load_hw62_paths(data_dir) if c.isdigit()]
    x, kept = preprocess_all([p for p, _ in photos], "hw62_dev digit photos")
    y = np.array([labels.index(c) for _, c in photos])
    results["hw62_digits"] = scores(predict_all(runtime, x[kept]), y[kept], labels)
    results["hw62_digits"]["refused"] = int((~kept).sum())
    results["hw62_digits"]["description"] = "hw62_dev digits: photographed pen on paper, through the upload preprocessing"
    return results


EVALUATORS = {"digits": evaluate_digits}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(EVALUATORS))
    parser.add_argument("--model-dir", default=None, help="model folder (default: models/<task>)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $HANDWRITING_DATA_DIR or ../shared/datasets)")
    parser.add_argument("--version", default=None, help=f"version to record (default: keep the folder's, else {DEFAULT_VERSION})")
    args = parser.parse_args(argv)

    from handwriting.runtime import KerasRuntime
    from training.train import MODELS_DIR

    folder = Path(args.model_dir) if args.model_dir else MODELS_DIR / args.task
    runtime = KerasRuntime(folder / WEIGHTS_FILE)
    previous = json.loads((folder / METRICS_FILE).read_text()) if (folder / METRICS_FILE).exists() else {}
    started = time.time()
    results = EVALUATORS[args.task](runtime, args.data_dir)
    labels = labels_for(args.task)
    for name, result in results.items():
        save_confusion_png(np.array(result["confusion"]), labels, f"{args.task}: {name} ({result['accuracy']:.2%})",
                           folder / f"confusion_{name}.png")

    training = json.loads((folder / "training.json").read_text()) if (folder / "training.json").exists() else {}
    metrics = {
        "task": args.task,
        "version": args.version or previous.get("version", DEFAULT_VERSION),
        "labels": list(labels),
        "input": "28x28x1 float32 in [0, 1], white ink on black, from handwriting.preprocessing.to_model_input",
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "evaluation_seconds": round(time.time() - started, 1),
        "results": results,
    }
    metrics["headline"] = model_card.headline(metrics)
    (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")
    (folder / CARD_FILE).write_text(model_card.render(metrics, training))
    for name, result in results.items():
        print(f"{name:>14}: accuracy {result['accuracy']:.4%}  top-3 {result['top3_accuracy']:.4%}  (n={result['n']})")
    print(f"wrote {folder / METRICS_FILE} and {folder / CARD_FILE}")


if __name__ == "__main__":
    main()
