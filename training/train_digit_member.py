"""Train one more digits CNN for the ensemble, from other hands and in the looks people send.

    python -m training.train_digit_member --out runs/digit_member_emnist

The served digits ensemble averages three copies of the original CNN that all learnt from MNIST alone, so
they share its blind spots: other writers' styles (NIST's, in EMNIST) and pictures that are photographed
or drawn on the sketchpad rather than scanned. This member is the same architecture (`build_model`, so the
cost per picture is one more CNN) trained on MNIST's training digits and EMNIST's training-part digits,
with a share of them re-made as photos (some on ruled paper) and as pad drawings (`training.photo_renders`),
all through the serving preprocessing, with the original recipe's augmentation (`training.fit`).

Validation (the epoch kept): a seeded 5,000 of the MNIST training digits (`none_data.MNIST_VALIDATION`, the
same split the "?" head calibrates on) and EMNIST's validation-tenth digits. USPS, MNIST test and hw62_dev
are never seen; `training.compare_digit_members` measures the ensemble with and without the new member.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from handwriting.model_folder import KERAS_FILE, write_training
from handwriting.tasks import labels_for


def member_data(cache=None, seed: int = 0, restyled_share: float = 0.2):
    """(x_train, y_train, x_val, y_val, description), uint8 images white on black."""
    from training.emnist_cache import load
    from training.none_data import MNIST_VALIDATION
    from training.photo_renders import restyled_mix

    data = load(cache)
    rng = np.random.default_rng(seed)
    y, src, val = data["y"].astype(np.int64), data["source"], data["validation"]
    mnist = np.flatnonzero(src == 2)
    mnist_val = rng.choice(mnist, min(MNIST_VALIDATION, len(mnist)), replace=False)
    mnist_train = np.setdiff1d(mnist, mnist_val)
    emnist_train = np.flatnonzero((src < 2) & (y < 10) & ~val)
    emnist_val = np.flatnonzero((src < 2) & (y < 10) & val)
    train = np.concatenate([mnist_train, emnist_train])
    n_style = int(restyled_share * len(train))
    copies_x, copies_y = restyled_mix(data["x"], y, train, n_style, rng, seed)
    x_train = np.concatenate([data["x"][train], copies_x])
    y_train = np.concatenate([y[train], copies_y])
    x_val = np.concatenate([data["x"][mnist_val], data["x"][emnist_val]])
    y_val = np.concatenate([y[mnist_val], y[emnist_val]])
    description = (f"{len(mnist_train):,} MNIST training digits and {len(emnist_train):,} EMNIST training-part "
                   f"digits, plus {len(copies_y):,} of them re-made (a quarter photographed, a "
                   "quarter photographed on ruled paper, half drawn on the sketchpad; training.photo_renders), "
                   f"all through the serving preprocessing. Validation: {len(mnist_val):,} MNIST training digits "
                   f"and EMNIST's {len(emnist_val):,} validation-tenth digits")
    return x_train, y_train, x_val, y_val, description


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--lr-decay-per-epoch", type=float, default=0.85)
    parser.add_argument("--restyled-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)

    import keras

    from training.fit import fit, fit_summary
    from training.model import build_model
    from training.train import TrainSettings

    keras.utils.set_random_seed(args.seed)
    x, y, xv, yv, description = member_data(seed=args.seed, restyled_share=args.restyled_share)
    print(f"{len(y):,} training images, {len(yv):,} validation")
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                             lr_decay_per_epoch=args.lr_decay_per_epoch, seed=args.seed)
    model = build_model(10, settings.learning_rate)
    started = time.time()
    history = fit(model, x, y, settings, validation=(xv, yv))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / KERAS_FILE)
    command = (f"python -m training.train_digit_member --out {out} --epochs {args.epochs} --batch-size {args.batch_size} "
               f"--learning-rate {args.learning_rate:g} --lr-decay-per-epoch {args.lr_decay_per_epoch:g} "
               f"--restyled-share {args.restyled_share:g} --seed {args.seed}")
    write_training(out, {"task": "digits", "labels": list(labels_for("digits")), "data": description, "command": command,
                         "settings": {**asdict(settings), "restyled_share": args.restyled_share},
                         "train_size": int(len(y)),
                         **fit_summary(history.history["val_accuracy"], time.time() - started)})
    print(f"saved {out / KERAS_FILE}")


if __name__ == "__main__":
    main()
