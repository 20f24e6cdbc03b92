"""Running a model folder's `model.tflite` in the LiteRT interpreter: serving needs no TensorFlow.

The serving copy is converted from `model.keras` by `python -m training.export`, which records the
SHA-256 of the weights it came from; a copy that is missing or stale (the weights changed since) is
refused rather than served, so a retrained model never serves old weights. Training runs the Keras
model itself (`training.keras_runtime`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handwriting.model_folder import KERAS_FILE, LITERT_FILE, litert_state


class RuntimeUnavailableError(RuntimeError):
    """The folder has no current serving copy; the message says how to make one."""


class LiteRTRuntime:
    """A `.tflite` model in the LiteRT interpreter: probabilities for a batch. Not thread-safe: one call at a
    time (the micro-batcher guarantees it)."""

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


def load_runtime(folder: Path) -> LiteRTRuntime:
    """The folder's serving model; RuntimeUnavailableError when its `model.tflite` is missing or stale."""
    folder = Path(folder)
    state = litert_state(folder)
    if state != "current":
        why = (f"{folder / LITERT_FILE} is missing" if state == "missing"
               else f"{folder / LITERT_FILE} is stale (not converted from this {KERAS_FILE})")
        raise RuntimeUnavailableError(f"{why}: convert it with `python -m training.export {folder}` "
                                      "(needs requirements-train.txt)")
    return LiteRTRuntime(folder / LITERT_FILE)
