"""Train the digits model with a "none" output unit: digits from every kind of hand, and "?" for the rest.

    python -m training.emnist_cache                                   # once: data/emnist/preprocessed.npz
    python -m training.train_refusal digits --out runs/digits_none --epochs 8
    python -m training.evaluate_refusal digits --model-dir runs/digits_none

Data (all through the serving preprocessing, `training.emnist_cache`):
- the task's characters: the MNIST training digits and EMNIST's digits (other writers, scanned, thicker
  strokes), EMNIST's validation tenth and a seeded MNIST split kept aside;
- "none" (the last unit): EMNIST letters that look like no digit (`NEGATIVE_LETTERS`, the training part
  only) and generated doodles of `training.doodles.TRAIN_FAMILIES` only. With positives and negatives from
  one source (EMNIST digits beside EMNIST letters) the unit must learn the shape, not the source.
- augmentation `training.augment.writer_augmenter`: rotation, zoom, shift, aspect ratio, slant, elastic
  wobble, thick/thin strokes, low resolution and blur.

The architecture is the original CNN (`handwriting.model.build_model`) with N+1 output units. After
training, `training.calibrate_refusal` sets the thresholds on the validation part and writes refusal.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for
from handwriting.model_folder import KERAS_FILE, write_training
from training.emnist import positions_in_all

from training.none_data import MNIST_VALIDATION, NEGATIVE_LETTERS, doodles, negative_letter_mask  # noqa: F401

ALL = labels_for("all")


def digits_data(cache=None, seed: int = 0, emnist_digits: int | None = None, doodle_n: int = 24000):
    """(x_train, y_train, x_val, y_val, description); label 10 is "none"."""
    from training.emnist_cache import load

    data = load(cache)
    rng = np.random.default_rng(seed)
    y, src, val = data["y"].astype(np.int64), data["source"], data["validation"]
    mnist = np.flatnonzero(src == 2)
    mnist_val = rng.choice(mnist, MNIST_VALIDATION, replace=False)
    mnist_train = np.setdiff1d(mnist, mnist_val)
    emnist_train = emnist_digits_idx = np.flatnonzero((src < 2) & (y < 10) & ~val)
    if emnist_digits is not None and emnist_digits < len(emnist_train):
        emnist_train = rng.choice(emnist_train, emnist_digits, replace=False)
    letters = negative_letter_mask(data)
    letters_train, letters_val = np.flatnonzero(letters & ~val), np.flatnonzero(letters & val)
    emnist_val = np.flatnonzero((src < 2) & (y < 10) & val)
    dx, _ = doodles("train", doodle_n, seed)
    dvx, _ = doodles("train", doodle_n // 8, seed + 1000)  # fresh drawings of the same families
    none = 10
    x_train = np.concatenate([data["x"][mnist_train], data["x"][emnist_train], data["x"][letters_train], dx])
    y_train = np.concatenate([y[mnist_train], y[emnist_train], np.full(len(letters_train) + len(dx), none)])
    x_val = np.concatenate([data["x"][mnist_val], data["x"][emnist_val], data["x"][letters_val], dvx])
    y_val = np.concatenate([y[mnist_val], y[emnist_val], np.full(len(letters_val) + len(dvx), none)])
    description = (f"{len(mnist_train):,} MNIST training digits and {len(emnist_train):,} EMNIST digits (of "
                   f"{len(emnist_digits_idx):,} in its training part); 'none': {len(letters_train):,} EMNIST letters "
                   f"that look like no digit ({''.join(NEGATIVE_LETTERS)}) and {len(dx):,} generated doodles of the "
                   "training families (training.doodles.TRAIN_FAMILIES); all through the serving preprocessing. "
                   f"Validation: {MNIST_VALIDATION:,} MNIST training digits, EMNIST's validation tenth "
                   f"({len(emnist_val):,} digits, {len(letters_val):,} such letters) and {len(dvx):,} fresh doodles")
    return x_train, y_train.astype(np.int64), x_val, y_val.astype(np.int64), description


def characters_data(cache=None, seed: int = 0, positives: int = 150000, doodle_n: int = 34000):
    """For the 62-class network: (x_train, y_train, validation in refusal_head's format, description).
    y in the "all" order, 62 = "none"; ByMerge's case-merged images are left out (their case is unknown)."""
    from training.emnist_cache import load

    data = load(cache)
    rng = np.random.default_rng(seed)
    y, src, val = data["y"].astype(np.int64), data["source"], data["validation"]
    mnist = np.flatnonzero(src == 2)
    mnist_val = rng.choice(mnist, MNIST_VALIDATION, replace=False)  # the same draw as digits_data
    pool = np.setdiff1d(np.flatnonzero(~val & ~data["case_ambiguous"]), mnist_val)
    pick = rng.choice(pool, min(positives, len(pool)), replace=False)
    dx, _ = doodles("train", doodle_n, seed)
    dvx, _ = doodles("train", doodle_n // 8, seed + 1000)
    none = len(ALL)
    x_train = np.concatenate([data["x"][pick], dx])
    y_train = np.concatenate([y[pick], np.full(len(dx), none)])
    val_idx = np.concatenate([np.flatnonzero(val & ~data["case_ambiguous"]), mnist_val])
    validation = {"x": np.concatenate([data["x"][val_idx], dvx]),
                  "y": np.concatenate([y[val_idx], np.full(len(dvx), -1)]),
                  "y_alt": np.concatenate([y[val_idx], np.full(len(dvx), -1)])}
    description = (f"{len(pick):,} images (seeded draw) of EMNIST's training part without ByMerge's case-merged images, "
                   f"and MNIST's training digits; 'none': {len(dx):,} generated doodles of the training families "
                   f"({', '.join(__import__('training.doodles', fromlist=['x']).TRAIN_FAMILIES)}); through the "
                   "serving preprocessing")
    return x_train, y_train, validation, description


def train_characters(base: Path, out: Path, epochs: int, batch_size: int, learning_rate: float, decay: float,
                     seed: int, cache=None, positives: int = 150000, doodle_n: int = 34000,
                     prior_power: float = 1.0) -> Path:
    """Fine-tune the 62-class network of `base` (models/all) with a 63rd unit, "none", on characters and doodles.

    Starts from the base's weights (its prior-corrected last layer plus a new none column) and weights each
    character class by count^-prior_power, as `training.retrain` does, so the prior correction stays."""
    import keras

    from training.model import build_model
    from training.augment import writer_augmenter
    from training.fit import fit, fit_summary
    from training.fit import class_weights
    from training.train import TrainSettings

    keras.utils.set_random_seed(seed)
    x, y, validation, description = characters_data(cache, seed, positives, doodle_n)
    none = len(ALL)
    base_model = keras.saving.load_model(base / KERAS_FILE, compile=False)
    model = build_model(none + 1, learning_rate)
    for src, dst in zip(base_model.layers[:-1], model.layers[:-1]):
        dst.set_weights(src.get_weights())
    kernel, bias = base_model.layers[-1].get_weights()
    model.layers[-1].set_weights([np.concatenate([kernel, np.zeros((kernel.shape[0], 1), kernel.dtype)], 1),
                                  np.concatenate([bias, [bias.max()]]).astype(bias.dtype)])
    weights = np.ones(len(y), np.float32)
    real = y < none
    weights[real] = class_weights(y[real], none, prior_power)
    weights[~real] = real.sum() / max((~real).sum(), 1) / 3.0  # "none" weighs a quarter of the total
    weights /= weights.mean()
    yv = np.where(validation["y"] >= 0, validation["y"], none)
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                             lr_decay_per_epoch=decay, seed=seed, validation_size=len(yv))
    print(f"all: {len(y):,} training images ({int((~real).sum()):,} none), {len(yv):,} validation")
    started = time.time()
    history = fit(model, x, y, settings, sample_weight=weights, validation=(validation["x"], yv),
                  augment=writer_augmenter(seed=seed))
    seconds = time.time() - started
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "network.keras")
    np.savez_compressed(out / "validation.npz", **validation)
    (out / "train_record.json").write_text(json.dumps({
        "kind": "none_unit", "base": str(base), "data": description,
        "settings": {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                     "lr_decay_per_epoch": decay, "seed": seed, "positives": positives, "doodles": doodle_n,
                     "prior_power": prior_power},
        "train_size": int(len(y)), **fit_summary(history.history["val_accuracy"], seconds)}, indent=2) + "\n")
    print(f"saved {out / 'network.keras'} ({seconds:.0f} s)")
    return out


def assemble_characters(run: Path, task: str, base: Path, out: Path) -> Path:
    """`task`'s model from the fine-tuned 63-unit network: its characters' rows (letters: without the digits)
    and the none unit last; model.keras, model.tflite and training.json (the base's, plus this run)."""
    import keras

    from training.model import build_model
    from handwriting.model_folder import read_training
    from training.export import export_litert

    network = keras.saving.load_model(run / "network.keras", compile=False)
    wanted = [*positions_in_all(task), len(ALL)]
    model = build_model(len(wanted), compile=False)
    for src, dst in zip(network.layers[:-1], model.layers[:-1]):
        dst.set_weights(src.get_weights())
    kernel, bias = network.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel[:, wanted], bias[wanted]])
    training = read_training(base)
    record = json.loads((run / "train_record.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / KERAS_FILE)
    training["none_unit"] = {**record, "outputs": list(labels_for(task)) + ["none"], "run": str(run),
                             "derived": "the fine-tuned 63-unit network's last layer" + (
                                 " without its ten digit rows" if task == "letters" else "")}
    write_training(out, training)
    export_litert(out)
    return out


def train(task: str, out: Path, epochs: int, batch_size: int, learning_rate: float, decay: float, seed: int,
          cache=None, emnist_digits: int | None = None, doodle_n: int = 24000, limit: int | None = None) -> Path:
    import keras

    from training.model import build_model
    from training.augment import writer_augmenter
    from training.export import export_litert
    from training.fit import fit, fit_summary
    from training.train import TrainSettings

    keras.utils.set_random_seed(seed)
    x, y, xv, yv, description = digits_data(cache, seed, emnist_digits, doodle_n)
    if limit:
        pick = np.random.default_rng(seed).choice(len(y), limit, replace=False)
        x, y = x[pick], y[pick]
    labels = labels_for(task)
    print(f"{task}: {len(y):,} training images ({int((y == len(labels)).sum()):,} none), {len(yv):,} validation")
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                             lr_decay_per_epoch=decay, seed=seed, validation_size=len(yv))
    model = build_model(len(labels) + 1, learning_rate)
    started = time.time()
    history = fit(model, x, y, settings, validation=(xv, yv), augment=writer_augmenter(seed=seed))
    seconds = time.time() - started
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / KERAS_FILE)
    np.savez_compressed(out / "validation.npz", x=xv, y=yv)  # what calibrate_refusal sets the thresholds on
    write_training(out, {
        "kind": "none_unit",
        "task": task,
        "labels": list(labels),
        "outputs": list(labels) + ["none"],
        "data": description,
        "augmentation": "training.augment.writer_augmenter: shear 0.25, rotation 10 deg, zoom 0.10 plus each side "
                        "up to 0.25 more on its own (aspect ratio), shift 0.08, elastic, thick/thin strokes, "
                        "low resolution (10-16 px, half binarised), blur",
        "settings": {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                     "lr_decay_per_epoch": decay, "seed": seed, "emnist_digits": emnist_digits, "doodles": doodle_n},
        "train_size": int(len(y)),
        **fit_summary(history.history["val_accuracy"], seconds),
    })
    export_litert(out)
    print(f"saved {out / KERAS_FILE} ({seconds:.0f} s)")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["digits", "all", "assemble"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--cache", default=None, help="the preprocessed EMNIST cache (training.emnist_cache)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--decay", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--emnist-digits", type=int, default=None, help="digits: use this many EMNIST digits (default: all)")
    parser.add_argument("--doodles", type=int, default=24000)
    parser.add_argument("--limit", type=int, default=None, help="digits: train on this many images only (smoke tests)")
    parser.add_argument("--base", default=None, help="all: the model folder to fine-tune (models/all); assemble: "
                        "the task's base folder whose training.json is kept")
    parser.add_argument("--positives", type=int, default=150000, help="all: characters drawn from EMNIST and MNIST")
    parser.add_argument("--run", default=None, help="assemble: the fine-tuned run folder")
    parser.add_argument("--task", dest="assemble_task", choices=["letters", "all"], default=None, help="assemble: which task")
    args = parser.parse_args(argv)
    if args.task == "all":
        train_characters(Path(args.base), Path(args.out), args.epochs, args.batch_size, args.learning_rate, args.decay,
                         args.seed, args.cache, args.positives, args.doodles)
    elif args.task == "assemble":
        assemble_characters(Path(args.run), args.assemble_task, Path(args.base), Path(args.out))
        print(f"wrote {args.out}")
    else:
        train(args.task, Path(args.out), args.epochs, args.batch_size, args.learning_rate, args.decay, args.seed,
              args.cache, args.emnist_digits, args.doodles, args.limit)


if __name__ == "__main__":
    main()
