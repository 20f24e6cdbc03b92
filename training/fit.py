"""The one fitting recipe `training.train` and `training.retrain` share, so the two never drift apart.

Images go in as uint8 (white ink on black) and become the model input (float32 / 255) inside the data
pipeline; each epoch reshuffles them (seeded) and shows each as a freshly generated rotated, zoomed and
shifted variant; the learning rate decays by a fixed factor an epoch.

The augmentation runs one batch at a time, in order: its random layers draw from a seed generator whose
state moves on with every call, so batches augmented side by side would take the draws in whatever order
the threads ran, and the same seeded fit would give another model each time (a retrain the maintainer runs
twice, or a test gated on a few dozen images, could then come out either side of the gate). Prefetching
still overlaps it with training.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from typing import Protocol

import numpy as np


class FitSettings(Protocol):
    """What `fit` reads from a settings object (`TrainSettings`, `RetrainSettings`)."""

    epochs: int
    batch_size: int
    learning_rate: float
    lr_decay_per_epoch: float
    rotation_deg: float
    zoom: float
    shift: float
    seed: int


def fit(model, x: np.ndarray, y: np.ndarray, settings: FitSettings, sample_weight: np.ndarray | None = None,
        validation: tuple[np.ndarray, np.ndarray] | None = None, augment=None):
    """Fit a compiled Keras `model` on uint8 images `x` (N x 28 x 28) and labels `y`; returns the Keras history.

    With `validation` (uint8 images, labels) the epoch with the best validation accuracy is restored at the end.
    `augment` replaces the settings' rotation/zoom/shift pipeline (e.g. `training.augment.writer_augmenter`)."""
    import keras
    import tensorflow as tf

    from training.augment import digit_augmenter

    if augment is None:
        augment = digit_augmenter(settings.rotation_deg, settings.zoom, settings.shift, settings.seed)

    def prepare(images, labels, *weights):
        images = tf.cast(images, tf.float32)[..., None] / 255.0
        return (augment(images, training=True), labels, *weights)

    data = (
        tf.data.Dataset.from_tensor_slices((x, y) if sample_weight is None else (x, y, sample_weight))
        .shuffle(len(y), seed=settings.seed, reshuffle_each_iteration=True)
        .batch(settings.batch_size)
        .map(prepare)  # in order, so a seeded fit is reproducible (module docstring)
        .prefetch(tf.data.AUTOTUNE)
    )
    callbacks = [keras.callbacks.LearningRateScheduler(
        lambda epoch: settings.learning_rate * settings.lr_decay_per_epoch**epoch)]
    validation_data = None
    if validation is not None:
        validation_data = (validation[0].astype(np.float32)[..., None] / 255.0, validation[1])
        callbacks.append(keras.callbacks.EarlyStopping(  # never stops early: keeps the best epoch's weights
            monitor="val_accuracy", patience=settings.epochs, restore_best_weights=True, verbose=1))
    return model.fit(data, validation_data=validation_data, epochs=settings.epochs, callbacks=callbacks,
                     shuffle=False, verbose=1 if sys.stdout.isatty() else 2)  # the dataset shuffles itself


def class_weights(y: np.ndarray, n_classes: int, power: float = 1.0) -> np.ndarray:
    """Per-image weights count^-power, scaled to mean 1: power 1 makes every class count as much.

    Training with them gives the posterior of a model whose logits were corrected by `power` x log(prior),
    so fine-tuning keeps the prior correction baked into the base model (training.train_emnist)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.zeros(n_classes)
    w[counts > 0] = counts[counts > 0] ** -power
    w = w[y]
    return (w / w.mean()).astype(np.float32)


def machine() -> str:
    """Where a fit ran, for its record: CPU count and architecture (figures come from records, not from prose)."""
    return f"{os.cpu_count()} CPUs, {platform.machine()}"


def fit_summary(val_acc, seconds: float) -> dict:
    """What every training record says of a fit: its best epoch by validation accuracy, the history, the
    time it took, where, when, and with which TensorFlow and Keras."""
    import keras
    import tensorflow as tf

    return {
        "best_epoch": int(np.argmax(val_acc)) + 1,
        "best_val_accuracy": float(np.max(val_acc)),
        "val_accuracy_history": [round(float(v), 5) for v in val_acc],
        "training_seconds": round(seconds, 1),
        "machine": machine(),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
