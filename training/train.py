"""Train a task's model and write it to `models/<task>/`.

    python -m training.train digits --data-dir ../shared/datasets

The recipe that takes the original CNN past 99.6% on MNIST test (see ../shared notes and the model card):
augmentation (rotation, zoom, shift), a learning rate decaying 5% an epoch, ~40 epochs, and keeping the
epoch that scores best on a validation split carved out of the training set (never the test set).
After training it runs `training.evaluate`, which writes the metrics and the model card.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from handwriting.labels import labels_for

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


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


def training_data(task: str, data_dir, cache=None, seed: int = 0):
    """(x uint8 N x 28 x 28 white ink on black, y, a description of the data) for `task`."""
    if task in ("letters", "all"):
        from training.letters_data import training_set

        return training_set(task, data_dir, cache=cache, seed=seed)
    from training.data import load_mnist

    train, _test = load_mnist(data_dir)
    return train.x, train.y, "MNIST training set (60,000) minus a seeded validation split"


def to_model_input(x_uint8: np.ndarray) -> np.ndarray:
    return (x_uint8.astype(np.float32) / 255.0)[..., None]


def fit_summary(val_acc, seconds: float) -> dict:
    """What every training record says of a fit: its best epoch by validation accuracy, the history, the
    time it took, when, and with which TensorFlow and Keras."""
    import keras
    import tensorflow as tf

    return {
        "best_epoch": int(np.argmax(val_acc)) + 1,
        "best_val_accuracy": float(np.max(val_acc)),
        "val_accuracy_history": [round(float(v), 5) for v in val_acc],
        "training_seconds": round(seconds, 1),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def train(task: str, data_dir, out_dir: Path, settings: TrainSettings, cache=None) -> Path:
    import keras
    import tensorflow as tf

    from handwriting.model import build_model
    from training.augment import digit_augmenter

    keras.utils.set_random_seed(settings.seed)
    x, y, description = training_data(task, data_dir, cache=cache, seed=settings.seed)
    order = np.random.default_rng(settings.seed).permutation(len(x))
    val_idx, train_idx = order[: settings.validation_size], order[settings.validation_size :]
    x_train, y_train = to_model_input(x[train_idx]), y[train_idx]
    x_val, y_val = to_model_input(x[val_idx]), y[val_idx]
    print(f"{task}: {len(x_train)} training and {len(x_val)} validation images")

    augment = digit_augmenter(settings.rotation_deg, settings.zoom, settings.shift, settings.seed)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=settings.seed, reshuffle_each_iteration=True)
        .batch(settings.batch_size)
        .map(lambda a, b: (augment(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    model = build_model(len(labels_for(task)), settings.learning_rate)
    callbacks = [
        keras.callbacks.LearningRateScheduler(
            lambda epoch: settings.learning_rate * settings.lr_decay_per_epoch**epoch
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy", patience=settings.epochs, restore_best_weights=True, verbose=1
        ),
    ]
    started = time.time()
    history = model.fit(
        train_ds,
        validation_data=(x_val, y_val),
        epochs=settings.epochs,
        callbacks=callbacks,
        verbose=1,
    )
    seconds = time.time() - started

    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "model.keras"
    model.save(weights)
    val_acc = history.history["val_accuracy"]
    record = {
        "task": task,
        "labels": list(labels_for(task)),
        "data": description + (" minus a seeded validation split" if task != "digits" else ""),
        "settings": asdict(settings),
        "train_size": int(len(x_train)),
        **fit_summary(val_acc, seconds),
    }
    (out_dir / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    from training.export import export_litert

    export_litert(out_dir)  # the serving runtime's copy, checked against this model
    print(f"saved {weights} (best epoch {record['best_epoch']}, val accuracy {record['best_val_accuracy']:.4f})")
    return weights


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["digits", "letters", "all"])
    parser.add_argument("--data-dir", default=None, help="folder holding mnist.npz (default: $HANDWRITING_DATA_DIR or ../shared/datasets)")
    parser.add_argument("--out-dir", default=None, help="where to write the model (default: models/<task>)")
    parser.add_argument("--epochs", type=int, default=None, help="default: 40 for digits, 15 for letters and all")
    parser.add_argument("--synthetic-cache", default=None, help="letters/all: the synthetic .npz (default: newest in data/synthetic)")
    parser.add_argument("--batch-size", type=int, default=TrainSettings.batch_size)
    parser.add_argument("--seed", type=int, default=TrainSettings.seed)
    parser.add_argument("--no-evaluate", action="store_true", help="skip the evaluation and model card")
    args = parser.parse_args(argv)
    overrides = dict(TASK_DEFAULTS.get(args.task, {}))
    if args.epochs:
        overrides["epochs"] = args.epochs
    settings = TrainSettings(batch_size=args.batch_size, seed=args.seed, **overrides)
    out_dir = Path(args.out_dir) if args.out_dir else MODELS_DIR / args.task
    train(args.task, args.data_dir, out_dir, settings, cache=args.synthetic_cache)
    if not args.no_evaluate:
        from training import evaluate

        evaluate.main([args.task, "--model-dir", str(out_dir)] + (["--data-dir", args.data_dir] if args.data_dir else []))


if __name__ == "__main__":
    main()
