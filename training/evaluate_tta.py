"""Test-time averaging: does reading a few shifted or scaled copies of a picture, and averaging, read better?

    python -m training.evaluate_tta runs/base_letters:letters runs/base_all:all --json benchmarks/results/tta.json
    python -m training.evaluate_tta runs/base_digits22:digits --json benchmarks/results/tta_digits.json

Each model (a folder with `model.keras`, its task after the colon) reads hw62_dev photos through the upload
path (`compare_recipes.hw62`), once as they are and then averaged (geometric mean of the probabilities) over
copies of its 28x28 input: four 1-pixel shifts; 0.9x and 1.1x; two diagonal shifts. Evaluation only: it
chooses nothing that is shipped. The cost is one network call per copy.

A digits model also reads EMNIST's validation-tenth digits (writers none of the MNIST networks saw, and the
set a variant would be chosen on), MNIST test and USPS: averaging that helps on photos but costs the scans
would be no gain for the digits task.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def shifted(x: np.ndarray, dx: int, dy: int) -> np.ndarray:
    return np.roll(np.roll(x, dy, axis=1), dx, axis=2)


def scaled(x: np.ndarray, factor: float) -> np.ndarray:
    """Each 28x28 picture zoomed about its centre, cropped or padded back to 28x28."""
    from scipy import ndimage

    out = np.zeros_like(x)
    for i, picture in enumerate(x):
        z = ndimage.zoom(picture, factor, order=1)
        n = z.shape[0]
        if n >= 28:
            o = (n - 28) // 2
            out[i] = z[o:o + 28, o:o + 28]
        else:
            o = (28 - n) // 2
            out[i, o:o + n, o:o + n] = z
    return out


VARIANTS = {
    "as is": [lambda x: x],
    "four 1-pixel shifts": [lambda x: x] + [lambda x, d=d: shifted(x, *d) for d in ((1, 0), (-1, 0), (0, 1), (0, -1))],
    "0.9x and 1.1x": [lambda x: x, lambda x: scaled(x, 0.9), lambda x: scaled(x, 1.1)],
    "two diagonal shifts": [lambda x: x, lambda x: shifted(x, 1, 1), lambda x: shifted(x, -1, -1)],
}


def averaged(runtime, x: np.ndarray, copies, n_labels: int) -> np.ndarray:
    from training.eval_sets import predict_all

    logs = [np.log(np.clip(predict_all(runtime, make(x))[:, :n_labels], 1e-9, 1.0)) for make in copies]
    p = np.exp(np.mean(logs, axis=0))
    return p / p.sum(1, keepdims=True)


def digit_checks() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The digits task's other sets: EMNIST validation-tenth digits, MNIST test, USPS (28x28 inputs, labels)."""
    from training.compare_recipes import emnist_validation
    from training.eval_sets import digit_sets

    x, y, _ = emnist_validation("all")
    out = {"emnist_val_digits": (x[y < 10].reshape(-1, 28, 28), y[y < 10])}
    for s in digit_sets(None):
        if s.name in ("mnist_test", "usps"):
            out[s.name] = (s.x.reshape(-1, 28, 28).astype(np.float32), s.y)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="FOLDER:TASK, TASK letters or all")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from handwriting.model_folder import KERAS_FILE
    from handwriting.tasks import labels_for
    from training.compare_recipes import hw62, summary
    from training.keras_runtime import KerasRuntime

    result = {}
    for spec in args.models:
        folder, task = spec.rsplit(":", 1)
        runtime, labels = KerasRuntime(Path(folder) / KERAS_FILE), labels_for(task)
        x, y = hw62(task)
        x = x.reshape(-1, 28, 28).astype(np.float32)
        others = digit_checks() if task == "digits" else {}
        for name, copies in VARIANTS.items():
            row = summary(averaged(runtime, x, copies, len(labels)), y, labels)
            entry = {"copies": len(copies), **{k: row[k] for k in ("top1", "ci", "top3")}}
            for set_name, (ox, oy) in others.items():
                entry[set_name] = round(float((averaged(runtime, ox, copies, len(labels)).argmax(1) == oy).mean()), 5)
            result[f"{folder} ({task}): {name}"] = entry
            print(f"{folder} {task} {name}: exact {row['top1']:.2%}, case-insensitive {row['ci']:.2%}, top-3 {row['top3']:.2%}"
                  + "".join(f", {k} {entry[k]:.2%}" for k in others))
    if args.json:
        from benchmarks.measure import save_result

        save_result(result, Path(args.json), indent=1)
    return result


if __name__ == "__main__":
    main()
