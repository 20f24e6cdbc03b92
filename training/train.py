"""Train a task's model and write it to `models/<task>/`.

    python -m training.train digits --data-dir ../shared/datasets

The recipe (`training.fit`, shared with `training.retrain`): augmentation (rotation, zoom, shift), a
learning rate decaying 5% an epoch, 40 epochs (digits; letters and all: `TASK_DEFAULTS`), and keeping the
epoch that scores best on a validation split carved out of the training set (never the test set). What it scores is measured, not claimed here:
after training it runs `training.evaluate`, which writes the metrics and the model card. Every setting
of `TrainSettings` is a command-line option.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for
from handwriting.model_folder import KERAS_FILE, bundled_folder, write_training


@dataclass
class TrainSettings:
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_decay_per_epoch: float = 0.95
    validation_size: int = 5000
    rotation_deg: float = 10.0
    zoom: float = 0.10
    shift: float = 0.10
    seed: int = 0


# Letters and all learn from a pre-rendered synthetic cache that already holds the variety of writing
# (training.synthetic): light on-line augmentation only, fewer epochs, a faster decay.
TASK_DEFAULTS = {
    "letters": dict(epochs=15, lr_decay_per_epoch=0.85, rotation_deg=5.0, zoom=0.05, shift=0.05),
    "all": dict(epochs=15, lr_decay_per_epoch=0.85, rotation_deg=5.0, zoom=0.05, shift=0.05),
}


def task_settings(task: str, **overrides) -> TrainSettings:
    """The settings `task` trains with: the defaults, the task's own, then `overrides` (the command line)."""
    return TrainSettings(**{**TASK_DEFAULTS.get(task, {}), **overrides})


def training_data(task: str, data_dir, cache=None, seed: int = 0):
    """(x uint8 N x 28 x 28 white ink on black, y, a description of the data) for `task`."""
    if task in ("letters", "all"):
        from training.letters_data import training_set

        return training_set(task, data_dir, cache=cache, seed=seed)
    from training.data import load_mnist

    train, _test = load_mnist(data_dir)
    return train.x, train.y, "MNIST training set (60,000) minus a seeded validation split"


def train(task: str, data_dir, out_dir: Path, settings: TrainSettings, cache=None) -> Path:
    import keras

    from training.model import build_model
    from training.export import export_litert
    from training.fit import fit, fit_summary

    keras.utils.set_random_seed(settings.seed)
    x, y, description = training_data(task, data_dir, cache=cache, seed=settings.seed)
    order = np.random.default_rng(settings.seed).permutation(len(x))
    val_idx, train_idx = order[: settings.validation_size], order[settings.validation_size :]
    print(f"{task}: {len(train_idx)} training and {len(val_idx)} validation images")

    model = build_model(len(labels_for(task)), settings.learning_rate)
    started = time.time()
    history = fit(model, x[train_idx], y[train_idx], settings, validation=(x[val_idx], y[val_idx]))
    seconds = time.time() - started

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / KERAS_FILE
    model.save(weights)
    record = {
        "task": task,
        "labels": list(labels_for(task)),
        "data": description + (" minus a seeded validation split" if task != "digits" else ""),
        "settings": asdict(settings),
        "train_size": int(len(train_idx)),
        **fit_summary(history.history["val_accuracy"], seconds),
    }
    write_training(out_dir, record)
    export_litert(out_dir)  # the serving runtime's copy, checked against this model
    print(f"saved {weights} (best epoch {record['best_epoch']}, val accuracy {record['best_val_accuracy']:.4f})")
    return weights


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["digits", "letters", "all"])
    parser.add_argument("--data-dir", default=None, help="folder holding mnist.npz (default: $HANDWRITING_DATA_DIR or ../shared/datasets)")
    parser.add_argument("--out-dir", default=None, help="where to write the model (default: models/<task>)")
    parser.add_argument("--synthetic-cache", default=None, help="letters/all: the synthetic .npz (default: newest in data/synthetic)")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the evaluation and model card")
    for f in fields(TrainSettings):  # every training setting, with the task's default when it has its own
        own = {task: d[f.name] for task, d in TASK_DEFAULTS.items() if f.name in d}
        shown = f"default {f.default}" + "".join(f", {task}: {v}" for task, v in own.items())
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=None, help=shown)
    args = parser.parse_args(argv)
    settings = task_settings(args.task, **{f.name: getattr(args, f.name) for f in fields(TrainSettings)
                                           if getattr(args, f.name) is not None})
    out_dir = Path(args.out_dir) if args.out_dir else bundled_folder(args.task)
    train(args.task, args.data_dir, out_dir, settings, cache=args.synthetic_cache)
    if not args.no_evaluate:
        from training import evaluate

        evaluate.main([args.task, "--model-dir", str(out_dir)] + (["--data-dir", args.data_dir] if args.data_dir else []))


if __name__ == "__main__":
    main()
