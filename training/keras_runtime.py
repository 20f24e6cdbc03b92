"""Running a saved `.keras` model in training and evaluation (serving runs its LiteRT copy).

`load_any(folder)` gives a folder's serving copy when it is current, else its Keras weights: a freshly
trained folder can be evaluated before it is converted.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from handwriting.model_folder import KERAS_FILE, litert_state
from handwriting.runtime import LiteRTRuntime, load_runtime

log = logging.getLogger("training")


class KerasRuntime:
    """A saved `.keras` model behind a compiled inference function: probabilities for a batch."""

    name = "keras"

    def __init__(self, weights: Path):
        import keras
        import tensorflow as tf

        self.model = keras.saving.load_model(weights, compile=False)
        spec = tf.TensorSpec([None, 28, 28, 1], tf.float32)
        self._infer = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])
        self.num_classes = int(self.model.output_shape[-1])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """float32 N x 28 x 28 (or N x 28 x 28 x 1) -> float32 N x num_classes probabilities."""
        batch = np.asarray(batch, dtype=np.float32).reshape(-1, 28, 28, 1)
        return self._infer(batch).numpy()


def load_any(folder: Path) -> LiteRTRuntime | KerasRuntime:
    """The folder's LiteRT copy when it is current, else its Keras weights (said in the log)."""
    folder = Path(folder)
    if litert_state(folder) == "current":
        return load_runtime(folder)
    log.warning("%s: its LiteRT copy is %s: running the Keras weights", folder, litert_state(folder))
    return KerasRuntime(folder / KERAS_FILE)
