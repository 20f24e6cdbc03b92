"""Train the 62-class character network on real handwriting (EMNIST + MNIST, through the serving preprocessing),
then derive the shipped "all" (62) and "letters" (52) models from it.

    python -m training.emnist_cache                       # once: data/emnist/preprocessed.npz
    python -m training.train_emnist train --out runs/emnist/cnn --epochs 8
    python -m training.train_emnist assemble runs/emnist/cnn --task letters --prior-power 1 --out models/letters

Training (`train`):
- data: the cache of `training.emnist_cache` minus its validation tenth: EMNIST ByClass, the ByMerge extra
  images and the 60,000 MNIST training digits, all as `to_model_input` makes them;
- ByMerge's case-merged images (C I J K L M O P S U V W X Y Z written either way) count with a loss that
  accepts either case: minus the log of the summed probability of the two case classes (`--ambiguous drop`
  leaves them out instead);
- augmentation: small rotation, zoom and shift, filling with the background (never Keras's reflections);
- Adam, learning rate decaying each epoch; the epoch that scores best on the EMNIST validation tenth is kept.
It writes `network.keras` (the 62-class network with a plain softmax), `train_record.json` and the training
prior (the label frequencies it learnt from, case-merged images split in proportion to ByClass's case ratio).

Assembling (`assemble`): the shipped models are the trained network with its last layer rewritten, so they
are plain `handwriting.model.build_model` networks that the serving code (LiteRT) runs unchanged:
- prior correction: the final logits minus `prior_power` x log(training prior), i.e. the posterior as if every
  class were equally frequent (EMNIST has 4,156 O but 466 o);
- letters: the 62-class logits with the ten digit rows removed, so its softmax is exactly the 62-class
  probabilities conditioned on "a letter" (one training run serves both tasks).
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
from training.fit import fit_summary

ALL = labels_for("all")


def training_prior(data: dict, train_mask: np.ndarray) -> np.ndarray:
    """Class frequencies of the training part ("all" order), case-merged images split by ByClass's case ratio."""
    y, amb = data["y"].astype(np.int64), data["case_ambiguous"]
    counts = np.bincount(y[train_mask & ~amb], minlength=len(ALL)).astype(np.float64)
    byclass = np.bincount(y[train_mask & (data["source"] == 0)], minlength=len(ALL)).astype(np.float64)
    for upper in np.unique(y[train_mask & amb]):
        lower = ALL.index(ALL[upper].lower())
        n = float((train_mask & amb & (y == upper)).sum())
        share = byclass[upper] / max(byclass[upper] + byclass[lower], 1.0)
        counts[upper] += n * share
        counts[lower] += n * (1 - share)
    return counts / counts.sum()


def either_case_loss(y_true, y_pred):
    """Cross-entropy where y_true holds (label, alternative): minus log of p(label) + p(alternative) when they differ."""
    from keras import ops

    y_true = ops.cast(y_true, "int32")
    p1 = ops.take_along_axis(y_pred, y_true[:, :1], axis=1)[:, 0]
    p2 = ops.take_along_axis(y_pred, y_true[:, 1:2], axis=1)[:, 0]
    p = p1 + ops.where(y_true[:, 0] != y_true[:, 1], p2, 0.0)
    return -ops.log(ops.clip(p, 1e-7, 1.0))


def either_case_accuracy(y_true, y_pred):
    from keras import ops

    y_true = ops.cast(y_true, "int32")
    pred = ops.cast(ops.argmax(y_pred, axis=1), "int32")
    return ops.cast((pred == y_true[:, 0]) | (pred == y_true[:, 1]), "float32")


def build_network(width: float = 1.0):
    """The original CNN (`handwriting.model.build_model`, width 1) or the same design with `width` x the channels."""
    import keras
    from keras import layers

    from training.model import build_model

    if width == 1.0:
        return build_model(len(ALL), compile=False)
    c1, c2 = int(round(32 * width)), int(round(64 * width))
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(c1, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(c1, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(c1, 5, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.4),
            layers.Conv2D(c2, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(c2, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(c2, 5, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.4),
            layers.Flatten(),
            layers.Dropout(0.4),
            layers.Dense(len(ALL), activation="softmax"),
        ],
        name=f"handwriting_cnn_w{width:g}",
    )


def train(cache: Path, out: Path, epochs: int = 8, batch_size: int = 128, learning_rate: float = 1e-3,
          decay: float = 0.8, ambiguous: str = "either", width: float = 1.0, rotation_deg: float = 8.0,
          zoom: float = 0.08, shift: float = 0.05, seed: int = 0, limit: int | None = None, thin: float = 0.0,
          synthetic: Path | None = None, init: Path | None = None, restyled_share: float = 0.0) -> Path:
    import keras
    import tensorflow as tf

    from training.augment import digit_augmenter
    from training.emnist_cache import load

    keras.utils.set_random_seed(seed)
    data = load(cache)
    train_mask = ~data["validation"]
    if ambiguous == "drop":
        train_mask &= ~data["case_ambiguous"]
    idx = np.flatnonzero(train_mask)
    if limit:
        idx = np.random.default_rng(seed).choice(idx, limit, replace=False)
    val = np.flatnonzero(data["validation"])
    pairs = np.stack([data["y"], data["y_alt"]], 1).astype(np.int32)  # (label, the other case's for merged ones)
    x_train, y_train = data["x"][idx], pairs[idx]
    x_val = data["x"][val].astype(np.float32)[..., None] / 255.0
    y_val = pairs[val]
    emnist_prior = training_prior(data, np.isin(np.arange(len(data["y"])), idx))
    prior_counts = emnist_prior * len(idx)
    n_synthetic, synthetic_name = 0, None
    if synthetic:  # font renders of every class (training.synthetic), already through the serving preprocessing
        from training.synthetic import load_cache

        sx, sy, _fonts, sinfo = load_cache(synthetic)
        x_train = np.concatenate([x_train, sx])
        y_train = np.concatenate([y_train, np.stack([sy, sy], 1).astype(np.int32)])
        prior_counts = prior_counts + np.bincount(sy.astype(np.int64), minlength=len(ALL))
        n_synthetic, synthetic_name = len(sy), Path(synthetic).name
    base_prior = prior_counts / prior_counts.sum()
    n_restyled = 0
    if restyled_share:  # photographed and pad-drawn copies of real characters: the looks hw62_dev and users send
        from training.photo_renders import restyled_mix

        rx, ry = restyled_mix(data["x"], pairs, idx, int(restyled_share * len(idx)), np.random.default_rng(seed + 1), seed)
        x_train, y_train, n_restyled = np.concatenate([x_train, rx]), np.concatenate([y_train, ry]), len(ry)
        prior_counts = prior_counts + emnist_prior * n_restyled  # drawn evenly from the same images
    prior = prior_counts / prior_counts.sum()
    print(f"training on {len(y_train):,} images ({int(data['case_ambiguous'][idx].sum()):,} case-merged, {n_synthetic:,} "
          f"synthetic), validating on {len(val):,}")

    augment = digit_augmenter(rotation_deg, zoom, shift, seed)

    def prepare(images, labels):
        images = tf.cast(images, tf.float32)[..., None] / 255.0
        if thin:  # EMNIST's scanned strokes are thicker than photos' and the sketchpad's after preprocessing
            eroded = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
            pick = tf.random.uniform((tf.shape(images)[0], 1, 1, 1)) < thin
            images = tf.where(pick, eroded, images)
        return augment(images, training=True), labels

    ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(y_train), seed=seed, reshuffle_each_iteration=True)
          .batch(batch_size).map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    model = build_network(width)
    if init:  # warm start from an earlier run's network (same architecture)
        model.set_weights(warm_start_weights(Path(init), base_prior))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=either_case_loss, metrics=[either_case_accuracy])
    out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.LearningRateScheduler(lambda e: learning_rate * decay**e),
        keras.callbacks.ModelCheckpoint(out / "best.weights.h5", monitor="val_either_case_accuracy", mode="max",
                                        save_best_only=True, save_weights_only=True),
        keras.callbacks.CSVLogger(out / "history.csv"),
    ]
    started = time.time()
    history = model.fit(ds, validation_data=(x_val, y_val), epochs=epochs, callbacks=callbacks, verbose=2,
                        shuffle=False)  # the dataset shuffles itself each epoch
    seconds = time.time() - started
    model.load_weights(out / "best.weights.h5")
    plain = build_network(width)
    plain.set_weights(model.get_weights())
    plain.save(out / "network.keras")
    val_acc = history.history["val_either_case_accuracy"]
    record = {
        "data": f"{len(y_train):,} images through the serving preprocessing (training.emnist_cache): EMNIST ByClass and the "
                f"ByMerge extra images minus a seeded validation tenth, plus the 60,000 MNIST training digits; "
                + ("ByMerge's case-merged images with a loss that accepts either case" if ambiguous == "either"
                   else "ByMerge's case-merged images left out")
                + (f"; plus {n_synthetic:,} synthetic font renders of all 62 classes ({synthetic_name}, training.synthetic)"
                   if n_synthetic else "")
                + (f"; plus {n_restyled:,} of the EMNIST and MNIST images re-made as people send them (a quarter "
                   "photographed, a quarter photographed on ruled paper, half drawn on the sketchpad; "
                   "training.photo_renders)" if n_restyled else ""),
        "sources": {**{name: int((data["source"][idx] == k).sum()) for k, name in enumerate(data["info"]["sources"])},
                    **({"synthetic": n_synthetic} if n_synthetic else {}),
                    **({"restyled": n_restyled} if n_restyled else {})},
        "case_merged_images": int(data["case_ambiguous"][idx].sum()),
        "validation_size": int(len(val)),
        "settings": dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, lr_decay_per_epoch=decay,
                         ambiguous=ambiguous, width=width, rotation_deg=rotation_deg, zoom=zoom, shift=shift, seed=seed,
                         thin=thin, synthetic=synthetic_name, init=str(init) if init else None,
                         restyled_share=restyled_share),
        "train_size": int(len(y_train)),
        **fit_summary(val_acc, seconds),
        "prior": [round(float(p), 7) for p in prior],
    }
    (out / "train_record.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"best epoch {record['best_epoch']}: EMNIST validation {record['best_val_accuracy']:.4f} ({seconds:.0f} s)")
    return out


def warm_start_weights(init: Path, prior: np.ndarray) -> list:
    """The weights of `init`: a training run's `network.keras`, or a shipped (assembled) model.keras of the
    same design, whose prior correction is undone with `prior` so that training goes on from plain logits."""
    import keras

    weights = keras.saving.load_model(init, compile=False).get_weights()
    record = init.parent / "training.json"
    power = json.loads(record.read_text()).get("prior_power", 0.0) if record.exists() else 0.0
    if power:
        if weights[-1].shape != prior.shape:
            raise ValueError(f"{init} has {weights[-1].shape[0]} outputs; a warm start needs all {prior.shape[0]}")
        weights[-1] = (weights[-1] + power * np.log(prior)).astype(np.float32)
    return weights


def assembled(network, task: str, prior: np.ndarray | None, prior_power: float):
    """A `build_model`-shaped network for `task` from the 62-class one: last layer sliced and prior-corrected."""
    import keras

    from training.model import build_model

    wanted = positions_in_all(task)
    last = network.layers[-1]
    kernel, bias = last.get_weights()
    bias = bias.astype(np.float64)
    if prior is not None and prior_power:
        bias = bias - prior_power * np.log(np.asarray(prior, np.float64))
    kernel, bias = kernel[:, wanted], bias[wanted]
    bias = bias - bias.max()
    if isinstance(network.layers[0], keras.layers.Conv2D) and network.layers[0].filters == 32:
        model = build_model(len(wanted))
    else:
        model = build_network(network.layers[0].filters / 32.0)
        model.pop()
        model.add(keras.layers.Dense(len(wanted), activation="softmax"))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for src, dst in zip(network.layers[:-1], model.layers[:-1]):
        dst.set_weights(src.get_weights())
    model.layers[-1].set_weights([kernel, bias.astype(np.float32)])
    return model


def assemble(run: Path, task: str, out: Path, prior_power: float = 1.0, note: str = "", notes: Path | None = None) -> Path:
    """Write `out/model.keras`, its LiteRT copy and `training.json` for `task` from a training run."""
    import keras

    from training.export import export_litert

    record = json.loads((run / "train_record.json").read_text())
    network = keras.saving.load_model(run / "network.keras", compile=False)
    model = assembled(network, task, np.array(record["prior"]), prior_power)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / KERAS_FILE)
    export_litert(out)
    labels = labels_for(task)
    training = {
        "kind": "emnist",
        "task": task,
        "labels": list(labels),
        "data": record["data"],
        "derived": (f"the 62-class network's final layer{' without its ten digit outputs (the softmax over the letter logits is exactly the 62-class probabilities conditioned on a letter)' if task == 'letters' else ''}"
                    + (f", logits minus {prior_power:g} x log(training class frequency) (prior correction)" if prior_power else ", no prior correction")),
        "prior_power": prior_power,
        "settings": record["settings"],
        "train_size": record["train_size"],
        "sources": record["sources"],
        "case_merged_images": record["case_merged_images"],
        "best_epoch": record["best_epoch"],
        "best_val_accuracy": record["best_val_accuracy"],
        "val_accuracy_history": record["val_accuracy_history"],
        "training_seconds": record["training_seconds"],
        **({"machine": record["machine"]} if "machine" in record else {}),
        "trained_at": record["trained_at"],
        "tensorflow": record["tensorflow"],
        "keras": record["keras"],
        "training_run": str(run),
    }
    init = record["settings"].get("init")
    if init and (Path(init).parent / "train_record.json").exists():  # a warm start: how its starting point was trained
        first = json.loads((Path(init).parent / "train_record.json").read_text())
        training["init_run"] = {k: first.get(k) for k in ("data", "settings", "best_epoch", "best_val_accuracy", "note")}
        training["init_run"]["folder"] = str(Path(init).parent)
    if note:
        training["note"] = note
    if notes:  # what was tried and measured, for the model card: {"recipes": [...], "findings": [...]} per task
        extra = json.loads(Path(notes).read_text())
        training.update(extra.get(task, extra))
    write_training(out, training)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--cache", default=None, help="the preprocessed EMNIST cache (default: $HANDWRITING_EMNIST_CACHE or "
                   "data/emnist/preprocessed.npz)")
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--decay", type=float, default=0.8)
    t.add_argument("--ambiguous", choices=["either", "drop"], default="either")
    t.add_argument("--width", type=float, default=1.0)
    t.add_argument("--rotation-deg", type=float, default=8.0, help="augmentation: largest rotation")
    t.add_argument("--zoom", type=float, default=0.08, help="augmentation: largest zoom")
    t.add_argument("--shift", type=float, default=0.05, help="augmentation: largest shift, a share of the side")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--thin", type=float, default=0.0, help="share of training images whose strokes are thinned (2x2 erosion)")
    t.add_argument("--synthetic", default=None, help="also train on this synthetic font cache (training.synthetic)")
    t.add_argument("--init", default=None, help="start from this network.keras (an earlier run) or an assembled 'all' "
                   "model.keras (its prior correction undone) instead of random weights")
    t.add_argument("--restyled-share", type=float, default=0.0, help="add this share of the real images again, "
                   "re-made as photos and pad drawings (training.photo_renders)")
    t.add_argument("--limit", type=int, default=None, help="train on this many images only (smoke tests)")
    a = sub.add_parser("assemble")
    a.add_argument("run")
    a.add_argument("--task", choices=["letters", "all"], required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--prior-power", type=float, default=1.0)
    a.add_argument("--notes", default=None, help="JSON of measured recipes and findings for the card (per task)")
    args = parser.parse_args(argv)
    if args.command == "train":
        from training.config import emnist_cache

        train(emnist_cache(args.cache), Path(args.out), args.epochs, args.batch_size, args.learning_rate, args.decay,
              args.ambiguous, args.width, rotation_deg=args.rotation_deg, zoom=args.zoom, shift=args.shift,
              seed=args.seed, limit=args.limit, thin=args.thin,
              synthetic=Path(args.synthetic) if args.synthetic else None, init=Path(args.init) if args.init else None,
              restyled_share=args.restyled_share)
    else:
        assemble(Path(args.run), args.task, Path(args.out), args.prior_power,
                 notes=Path(args.notes) if args.notes else None)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
