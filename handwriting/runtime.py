"""Running a trained model on a batch of 28x28 images, fast, and without TensorFlow where it can.

Two runtimes give the same probabilities (tested to 1e-4):

- `LiteRTRuntime`: the LiteRT interpreter (PyPI `ai-edge-litert`) on `model.tflite`, converted from the
  Keras model by `python -m training.export`. About 0.1 ms an image, and it needs no TensorFlow: serving
  installs only requirements.txt (no TensorFlow, about 1.5 GB less) and never imports it.
- `KerasRuntime`: the `.keras` model behind one `tf.function` (about 1 ms). Training and evaluation use it;
  it needs requirements-train.txt.

`load_runtime(folder)` decides which serves a model folder:
- `model.tflite` when it is current (converted from the very `model.keras` beside it, whose SHA-256 is
  recorded at conversion), so a retrained model never serves stale weights;
- else Keras, with a logged warning, if TensorFlow is installed (a training machine, a freshly trained
  folder not yet converted);
- else `RuntimeUnavailableError`, saying to convert the folder: a serving install cannot run Keras.
`prefer="keras"` or `prefer="litert"` asks for one runtime and nothing else.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from handwriting.model_folder import (  # noqa: F401  (the names older code imports from here)
    KERAS_FILE,
    LITERT_FILE,
    LITERT_SOURCE_FILE,
    litert_is_current,
    litert_state,
    sha256_of,
)

log = logging.getLogger("handwriting")


class RuntimeUnavailableError(RuntimeError):
    """No runtime this install has can serve the folder; the message says what to do."""


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


def tensorflow_installed() -> bool:
    """Whether Keras can run here (a training install), found without importing TensorFlow."""
    return importlib.util.find_spec("tensorflow") is not None


def load_runtime(folder: Path, prefer: str | None = None):
    """The runtime that serves a model folder: LiteRT when `model.tflite` is current, else Keras if TensorFlow is
    installed, else RuntimeUnavailableError. `prefer="keras"` / `"litert"` forces one (Keras: training, checks)."""
    folder = Path(folder)
    if prefer not in (None, "keras", "litert"):
        raise ValueError(f"prefer must be None, 'keras' or 'litert', not {prefer!r}")
    if prefer == "keras":
        return KerasRuntime(folder / KERAS_FILE)
    state = litert_state(folder)
    if state == "current":
        return LiteRTRuntime(folder / LITERT_FILE)
    why = (f"{folder / LITERT_FILE} is missing" if state == "missing"
           else f"{folder / LITERT_FILE} is stale (not converted from this {KERAS_FILE})")
    if prefer == "litert" or not tensorflow_installed():
        raise RuntimeUnavailableError(
            f"{why}, and {'LiteRT was asked for' if prefer == 'litert' else 'TensorFlow is not installed'}: "
            f"convert it with `python -m training.export {folder}` (needs requirements-train.txt)")
    log.warning("%s: serving with Keras (TensorFlow is installed)", why)
    return KerasRuntime(folder / KERAS_FILE)
