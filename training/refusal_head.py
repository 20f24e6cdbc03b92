"""Give a trained letters/all model a "none" output unit without changing a single one of its answers.

    python -m training.refusal_head train --base models/all --out runs/none_head
    python -m training.refusal_head assemble runs/none_head --task all --out models/all
    python -m training.refusal_head assemble runs/none_head --task letters --base models/letters --out models/letters

The base network stays frozen: its character logits are kept exactly, and one new logit, "none", comes
from a small head on the network's last features. Only the head learns, to tell the task's real characters
(EMNIST's training part and MNIST digits, through the serving preprocessing) from generated doodles of the
training families (`training.doodles.TRAIN_FAMILIES`); the held-out families are never seen. Since the
character logits are untouched, the argmax over the characters, the top 3 and the accuracy of the base
model are what they were; the served model has N+1 outputs, the last one "none", and refusal.json
(`training.evaluate_refusal.calibrate`, on a validation split of training data) says where to refuse.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from handwriting.tasks import labels_for
from handwriting.model_folder import KERAS_FILE, read_training, write_training
from training.emnist import from_all

ALL = labels_for("all")
HEAD_UNITS = 128
STYLE_WORDS = {"photo": "photographed", "canvas": "drawn on the sketchpad"}


def _members(network) -> list:
    """The member networks of an averaged ensemble (training.ensemble); [] for a single network."""
    import keras

    return [layer for layer in network.layers if isinstance(layer, keras.Model)]


def _features_and_logits(network, rich: bool = False):
    """A Keras model: image -> (the last hidden features, the character logits before the softmax).

    `rich` adds the average and the maximum over the image of two earlier blocks' activations (after the
    first and the last strided block): how strokes look locally, not only what character they make."""
    import keras

    members = _members(network)
    if members:  # an averaged ensemble (training.ensemble): every member's features, and its mean probabilities
        inputs = keras.Input(network.inputs[0].shape[1:])
        parts, probabilities = [], []
        for member in members:  # each member's layers applied in turn: one flat graph that saves and loads
            x, blocks = inputs, []
            for layer in member.layers[:-1]:
                x = layer(x)
                if isinstance(layer, keras.layers.BatchNormalization):
                    blocks.append(x)
            pooled = [x]
            if rich:
                for block in (blocks[1], blocks[-1]):
                    pooled += [keras.layers.GlobalAveragePooling2D()(block), keras.layers.GlobalMaxPooling2D()(block)]
            parts += pooled
            probabilities.append(member.layers[-1](x))
        features = keras.layers.Concatenate(name="members_features")(parts)
        return keras.Model(inputs, [features, keras.layers.Average(name="mean_probabilities")(probabilities)])
    last = network.layers[-1]
    hidden = network.layers[-2].output
    features = hidden
    if rich:
        blocks = [layer.output for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)]
        pooled = [hidden]
        for block in (blocks[1], blocks[-1]):
            pooled += [keras.layers.GlobalAveragePooling2D()(block), keras.layers.GlobalMaxPooling2D()(block)]
        features = keras.layers.Concatenate(name="none_features")(pooled)
    kernel, bias = last.get_weights()
    logits = keras.layers.Dense(kernel.shape[1], name="character_logits")
    out = logits(hidden)
    logits.set_weights([kernel, bias])
    return keras.Model(network.inputs, [features, out])


def head_data(cache=None, seed: int = 0, positives: int = 80000, doodle_n: int = 34000, task: str = "all",
              doodles_from: str = "train"):
    """(x, is_none) for training and for validation (uint8 images): the EMNIST cache's training part and
    MNIST (minus the digits task's MNIST validation split) against training-family doodles. For digits the
    characters are digits only, and the EMNIST letters that look like no digit are "none" too."""
    from training.emnist_cache import load
    from training.none_data import MNIST_VALIDATION, doodles, negative_letter_mask

    data = load(cache)
    rng = np.random.default_rng(seed)
    src, val = data["source"], data["validation"]
    mnist = np.flatnonzero(src == 2)
    mnist_val = rng.choice(mnist, MNIST_VALIDATION, replace=False)  # the same draw as train_refusal.digits_data
    real = np.ones(len(src), bool) if task != "digits" else data["y"] < 10
    train_pool = np.setdiff1d(np.flatnonzero(~val & real), mnist_val)
    pick = rng.choice(train_pool, min(positives, len(train_pool)), replace=False)
    dx, _ = doodles(doodles_from, doodle_n, seed)
    dvx, _ = doodles(doodles_from, doodle_n // 8, seed + 1000)
    letters = negative_letter_mask(data) if task == "digits" else np.zeros(len(src), bool)
    lx = data["x"][letters & ~val]
    x = np.concatenate([data["x"][pick], dx, lx])
    none = np.concatenate([np.zeros(len(pick), bool), np.ones(len(dx) + len(lx), bool)])
    val_idx = np.concatenate([np.flatnonzero(val & (real | letters)), mnist_val])
    xv = np.concatenate([data["x"][val_idx], dvx])
    as_none = np.concatenate([letters[val_idx], np.ones(len(dvx), bool)])
    yv = np.where(as_none, -1, np.concatenate([data["y"][val_idx].astype(np.int64), np.zeros(len(dvx), np.int64)]))
    yv_alt = np.where(as_none, -1, np.concatenate([data["y_alt"][val_idx].astype(np.int64), np.zeros(len(dvx), np.int64)]))
    description = (f"{len(pick):,} {'digits' if task == 'digits' else 'images'} of EMNIST's training part and MNIST's "
                   f"training digits (seeded draw) against {len(dx):,} generated doodles of the training families "
                   + ("(training.doodles.TRAIN_FAMILIES)" if doodles_from == "train"
                      else "and everyday objects (training.doodles.TRAIN_FAMILIES and MORE_TRAIN_FAMILIES)")
                   + (f" and {len(lx):,} EMNIST letters that look like no digit (training part)" if len(lx) else ""))
    y = np.concatenate([data["y"][pick].astype(np.int64), np.full(len(dx) + len(lx), -1)])
    return x, none, y, xv, yv, yv_alt, description


def restyled_copies(x: np.ndarray, styles: tuple[str, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A copy of every image in each style of `training.photo_renders` (photographed; drawn on the pad), as the
    upload path makes it, and the index in `x` each copy comes from."""
    from training.photo_renders import restyled_parallel

    copies, sources = [], []
    for k, style in enumerate(styles):
        made, kept = restyled_parallel(x, style, seed + 7919 * k)
        copies.append(made[kept])
        sources.append(np.flatnonzero(kept))
    if not copies:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    return np.concatenate(copies), np.concatenate(sources)


def pixel_branch():
    """The head's own look at the picture (`--pixels`): two small strided convolutions, pooled, as one
    sub-model (picture in [0, 1] -> 64 values). The frozen network's features were learnt to tell
    characters apart, not to tell a character from a drawing; this lets the head learn shapes of its own
    (stroke ends, crossings, loops). Its layers are named "none_..." so `training.served_network` leaves
    them with the head."""
    import keras

    image = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="none_pixels_1")(image)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu", name="none_pixels_2")(x)
    pooled = keras.layers.Concatenate(name="none_pixels_pooled")(
        [keras.layers.GlobalAveragePooling2D(name="none_pixels_mean")(x), keras.layers.GlobalMaxPooling2D(name="none_pixels_max")(x)])
    return keras.Model(image, pooled, name="none_pixels")


def train(base: Path, out: Path, epochs: int = 20, seed: int = 0, cache=None, rich: bool = False,
          augmented: bool = False, task: str = "all", balanced: bool = False, styles: tuple[str, ...] = (),
          augment_negatives: bool = False, doodle_n: int = 34000, pixels: bool = False, doodles_from: str = "train",
          extra: tuple[np.ndarray, np.ndarray, str] | None = None) -> Path:
    """`extra`: more pictures (uint8 images, their index in `ALL` or -1 for none of them, what they are), e.g.
    the feedback a retrain learns from: characters shown beside those of `head_data`, restyled and augmented
    as they are, and pictures people said are no character beside the doodles."""
    import keras

    keras.utils.set_random_seed(seed)
    network = keras.saving.load_model(base / KERAS_FILE, compile=False)
    extractor = _features_and_logits(network, rich)
    x, none, y, xv, yv, yv_alt, description = head_data(cache, seed, doodle_n=doodle_n, task=task, doodles_from=doodles_from)
    if extra is not None:
        x, y = np.concatenate([x, extra[0]]), np.concatenate([y, extra[1].astype(np.int64)])
        none = np.concatenate([none, extra[1] < 0])
        said_none = int((extra[1] < 0).sum())
        description += (f", plus {extra[2]}: {len(extra[1]) - said_none:,} as characters"
                        + (f", {said_none:,} said to be none of them as none" if said_none else ""))
    started = time.time()
    if styles:  # characters and doodles alike photographed and drawn on the pad: neither look means "none"
        cx, source = restyled_copies(x, styles, seed)
        x, y, none = np.concatenate([x, cx]), np.concatenate([y, y[source]]), np.concatenate([none, none[source]])
        vx, vsource = restyled_copies(xv, styles, seed + 1)
        xv, yv, yv_alt = np.concatenate([xv, vx]), np.concatenate([yv, yv[vsource]]), np.concatenate([yv_alt, yv_alt[vsource]])
        description += (f", plus a copy of every image {' and '.join(STYLE_WORDS[s] for s in styles)} ({len(cx):,}, "
                        "training.photo_renders; the validation part too)")
    if augmented:  # one more copy of every character as other hands and formats make it (thin, blurred, slanted)
        import tensorflow as tf

        from training.augment import writer_augmenter

        augment = writer_augmenter(seed=seed)
        chosen = np.flatnonzero(np.ones(len(x), bool) if augment_negatives else ~none)  # with doodles: no cue
        copies = np.concatenate([np.asarray(augment(tf.constant(x[chosen[i:i + 1024]], tf.float32)[..., None] / 255.0,
                                                    training=True))[..., 0] for i in range(0, len(chosen), 1024)])
        x = np.concatenate([x, np.clip(np.rint(copies * 255), 0, 255).astype(np.uint8)])
        none, y = np.concatenate([none, none[chosen]]), np.concatenate([y, y[chosen]])
        description += (f", plus one writer-augmented copy of each {'image' if augment_negatives else 'character'} "
                        f"({len(copies):,}, training.augment)")
    f, logits = extractor.predict(x.astype(np.float32)[..., None] / 255.0, batch_size=512, verbose=0)
    if _members(network):  # mean probabilities: their logs are logits
        logits = np.log(np.maximum(logits, 1e-12))
    print(f"features of {len(x):,} images in {time.time() - started:.0f} s")
    log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)

    feats = keras.Input((f.shape[1],))
    offset = keras.Input((1,))
    hidden = keras.layers.Dense(HEAD_UNITS, activation="relu", name="none_hidden")
    none_logit = keras.layers.Dense(1, name="none_logit")
    if pixels:  # trained on uint8 pictures (a quarter of the memory), served on the model's [0, 1] input
        branch, joined = pixel_branch(), keras.layers.Concatenate(name="none_inputs")
        raw, image = keras.Input((28, 28, 1), dtype="uint8"), keras.Input((28, 28, 1))
        n = none_logit(hidden(joined([feats, branch(keras.layers.Rescaling(1 / 255)(raw))])))
        head = keras.Model([feats, image], none_logit(hidden(joined([feats, branch(image)]))))
        train_inputs = [feats, raw]
    else:
        n = none_logit(hidden(feats))
        head, train_inputs = keras.Model(feats, n), [feats]
    z = keras.layers.Subtract()([n, offset])  # log p(none) - log p(character) in the N+1 softmax
    model = keras.Model([*train_inputs, offset], keras.layers.Activation("sigmoid")(z))
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    weight = np.where(none, 0.5 / none.mean(), 0.5 / (1 - none.mean()))
    if balanced:  # every character counts as much as any other: rare ones (Y, i, j) are not left to the doodles
        from training.fit import class_weights

        weight[~none] *= class_weights(y[~none], int(y.max()) + 1)
        description += "; each character weighted by 1 / its count (all characters count alike)"
    inputs = [f, x[..., None]] if pixels else [f]
    model.fit([*inputs, log_z[:, None]], none.astype(np.float32), sample_weight=weight, epochs=epochs, batch_size=256,
              verbose=2)
    seconds = time.time() - started
    out.mkdir(parents=True, exist_ok=True)
    head.save(out / "none_head.keras")
    np.savez_compressed(out / "validation.npz", x=xv, y=yv, y_alt=yv_alt)
    (out / "head_record.json").write_text(json.dumps({
        "base": str(base), "base_training": read_training(base).get("trained_at"), "data": description,
        "task": task, "rich_features": rich, "augmented": augmented, "balanced": balanced, "styles": list(styles),
        "augment_negatives": augment_negatives, "doodles": doodle_n, "doodles_from": doodles_from, "pixels": pixels,
        "epochs": epochs, "out": str(out),
        "head": f"Dense({HEAD_UNITS}, relu) -> Dense(1) on the base network's last features"
                + (" and the average and maximum of two earlier blocks' activations" if rich else "")
                + (", and of its own two small convolutions over the picture" if pixels else "")
                + f", trained {epochs} epochs "
                "(Adam 1e-3, balanced binary cross-entropy of the none unit's probability in the N+1 softmax)",
        "training_seconds": round(seconds, 1), "seed": seed}, indent=2) + "\n")
    print(f"saved {out / 'none_head.keras'} ({seconds:.0f} s)")
    return out


def train_arguments(record: dict) -> dict:
    """The keyword arguments of `train` that made a head, from the record it wrote (`head_record.json`, kept as a
    model's training.json "none_unit"): the one place that reads that record's names back."""
    return {"epochs": record.get("epochs", 20), "seed": record.get("seed", 0), "task": record["task"],
            "rich": record.get("rich_features", False), "augmented": record.get("augmented", False),
            "balanced": record.get("balanced", False), "styles": tuple(record.get("styles") or ()),
            "augment_negatives": record.get("augment_negatives", False), "doodle_n": record.get("doodles", 34000),
            "pixels": record.get("pixels", False), "doodles_from": record.get("doodles_from", "train")}


def assembled(base: Path, head_run: Path):
    """base network -> [its character logits (exactly), the head's none logit] -> softmax over N+1."""
    import keras

    network = keras.saving.load_model(base / KERAS_FILE, compile=False)
    head = keras.saving.load_model(head_run / "none_head.keras", compile=False)
    record = json.loads((head_run / "head_record.json").read_text())
    extractor = _features_and_logits(network, record.get("rich_features", False))
    features, logits = extractor.outputs
    none = head([features, extractor.inputs[0]] if record.get("pixels") else features)
    if _members(network):  # softmax([log p, none]) without a log layer: [p * sigmoid(-none), sigmoid(none)]
        p_none = keras.layers.Activation("sigmoid", name="none_probability")(none)
        keep = keras.layers.Rescaling(-1.0, offset=1.0, name="character_share")(p_none)
        out = keras.layers.Concatenate(name="probabilities")([keras.layers.Multiply()([logits, keep]), p_none])
        return keras.Model(extractor.inputs, out, name=f"{network.name}_with_none")
    out = keras.layers.Softmax(name="probabilities")(keras.layers.Concatenate(name="logits_and_none")([logits, none]))
    return keras.Model(network.inputs, out, name=f"{network.name}_with_none")


def assemble(head_run: Path, task: str, base: Path, out: Path) -> Path:
    """Write `out/model.keras` (N+1 outputs), model.tflite and training.json; refusal.json comes from calibration."""
    from training.export import export_litert

    model = assembled(base, head_run)
    out.mkdir(parents=True, exist_ok=True)
    staged = out / (KERAS_FILE + ".new.keras")
    model.save(staged)
    training = read_training(base)
    staged.replace(out / KERAS_FILE)
    record = json.loads((head_run / "head_record.json").read_text())
    training["none_unit"] = {**record, "outputs": list(labels_for(task)) + ["none"]}
    write_training(out, training)
    export_litert(out)
    return out


def validation_for(task: str, head_run: Path) -> tuple[np.ndarray, np.ndarray]:
    """The head's validation split for `task`: (x float32, y in the task's labels, len(labels) for none;
    images of other tasks' characters left out)."""
    with np.load(head_run / "validation.npz") as f:
        x, y, y_alt = f["x"], f["y"], f["y_alt"]
    labels = labels_for(task)
    index = from_all(task, missing=-2)
    mapped = np.where(y >= 0, index[np.maximum(y, 0)], len(labels))
    mapped_alt = np.where(y_alt >= 0, index[np.maximum(y_alt, 0)], len(labels))
    keep = (mapped != -2) & (mapped_alt != -2)
    return x[keep].astype(np.float32) / 255.0, mapped[keep]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--base", required=True, help="model folder whose network gets the head (models/all)")
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--cache", default=None)
    t.add_argument("--rich", action="store_true", help="also pool two earlier blocks' activations into the head's input")
    t.add_argument("--augmented", action="store_true", help="add a writer-augmented copy of every character")
    t.add_argument("--balanced", action="store_true", help="weight each character by 1 / its count")
    t.add_argument("--augment-negatives", action="store_true", help="--augmented copies of the doodles too")
    t.add_argument("--doodles", type=int, default=34000, help="training-family doodles drawn as negatives")
    t.add_argument("--doodles-from", default="train", choices=["train", "train+"], help="the doodle families drawn: "
                   "training.doodles.TRAIN_FAMILIES, or those and MORE_TRAIN_FAMILIES (everyday objects)")
    t.add_argument("--styles", nargs="*", default=[], choices=list(STYLE_WORDS), help="add a copy of every image in "
                   "these styles (training.photo_renders: photographed pen on paper; drawn on the sketchpad)")
    t.add_argument("--pixels", action="store_true", help="give the head its own small convolutions over the picture")
    t.add_argument("--task", default="all", choices=["digits", "all"], help="whose characters are real (digits: "
                   "the digits only, and letters that look like no digit are none too)")
    a = sub.add_parser("assemble")
    a.add_argument("run")
    a.add_argument("--task", choices=["digits", "letters", "all"], required=True)
    a.add_argument("--base", default=None, help="the task's base folder (default: the run's base)")
    a.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "train":
        train(Path(args.base), Path(args.out), args.epochs, args.seed, args.cache, args.rich, args.augmented, args.task,
              args.balanced, tuple(args.styles), args.augment_negatives, args.doodles, args.pixels, args.doodles_from)
    else:
        run = Path(args.run)
        base = Path(args.base) if args.base else Path(json.loads((run / "head_record.json").read_text())["base"])
        assemble(run, args.task, base, Path(args.out))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
