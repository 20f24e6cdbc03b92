"""Running a trained model on a batch of 28x28 images, fast.

Two runtimes give the same probabilities (tested to 1e-4); the fastest available one serves:

- `LiteRTRuntime`: the LiteRT interpreter (PyPI `ai-edge-litert`) on `model.tflite`, converted from the
  Keras model by `python -m training.export`. About 0.1 ms an image here, and serving never imports
  TensorFlow (seconds of start-up and hundreds of MB of memory saved).
- `KerasRuntime`: the `.keras` model behind one `tf.function` (about 1 ms; `model.predict()` builds a
  data pipeline per call and costs about 45 ms). Training always uses Keras.

`load_runtime(folder)` takes the LiteRT file only when it was converted from the very `model.keras`
beside it (its SHA-256 is recorded at conversion), so a retrained model never serves stale weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

KERAS_FILE = "model.keras"
LITERT_FILE = "model.tflite"
LITERT_SOURCE_FILE = "model.tflite.json"  # {"keras_sha256": ...} of the model.keras it came from

log = logging.getLogger("handwriting")


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


class LiteRTRuntime:
    """A `.tflite` model in the LiteRT interpreter. Not thread-safe: one call at a time (the
    micro-batcher guarantees it)."""

    name = "litert"

    def __init__(self, path: Path, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        output = self._interpreter.get_output_details()[0]
        self._output = output["index"]
        self.num_classes = int(output["shape"][-1])

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """float32 N x 28 x 28 (or N x 28 x 28 x 1) -> float32 N x num_classes probabilities.

        One invoke per image: at this model size that beats resizing the interpreter per batch."""
        batch = np.asarray(batch, dtype=np.float32).reshape(-1, 1, 28, 28, 1)
        out = np.empty((len(batch), self.num_classes), np.float32)
        for i, x in enumerate(batch):
            self._interpreter.set_tensor(self._input, x)
            self._interpreter.invoke()
            out[i] = self._interpreter.get_tensor(self._output)[0]
        return out


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def litert_is_current(folder: Path) -> bool:
    """True when `model.tflite` exists and was converted from the `model.keras` now in `folder`."""
    folder = Path(folder)
    source = folder / LITERT_SOURCE_FILE
    if not (folder / LITERT_FILE).is_file() or not source.is_file():
        return False
    try:
        return json.loads(source.read_text()).get("keras_sha256") == sha256_of(folder / KERAS_FILE)
    except (OSError, ValueError):
        return False


def load_runtime(folder: Path, prefer: str | None = None):
    """The fastest runtime available for a model folder (`prefer="keras"` forces Keras)."""
    folder = Path(folder)
    if prefer != "keras" and litert_is_current(folder):
        try:
            return LiteRTRuntime(folder / LITERT_FILE)
        except ImportError:
            log.info("ai-edge-litert is not installed: serving %s with Keras", folder)
    elif prefer != "keras" and (folder / LITERT_FILE).exists():
        log.warning("%s is stale (not converted from this model.keras): serving with Keras", folder / LITERT_FILE)
    return KerasRuntime(folder / KERAS_FILE)
