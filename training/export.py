"""Convert a model folder's `model.keras` to `model.tflite` for the LiteRT serving runtime.

    python -m training.export models/digits

The conversion is checked before it is kept: on a fixed set of inputs (blank, noise and MNIST-like
strokes) the LiteRT outputs must match the Keras model's within TOLERANCE, or nothing is written.
`train`, `ensemble`, `retrain` and `train_emnist assemble` call this after saving a model, and `publish`
before uploading one, so every model folder serves without TensorFlow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from handwriting.model_folder import KERAS_FILE, LITERT_FILE, write_litert_source
from handwriting.runtime import LiteRTRuntime
from training.keras_runtime import KerasRuntime

TOLERANCE = 1e-4  # largest difference in any probability that is accepted


def check_inputs(seed: int = 0) -> np.ndarray:
    """64 fixed inputs: blank, uniform noise, and random bright strokes on black."""
    rng = np.random.default_rng(seed)
    x = np.zeros((64, 28, 28), np.float32)
    x[1:22] = rng.random((21, 28, 28), dtype=np.float32)
    for img in x[22:]:
        for _ in range(3):
            r, c = rng.integers(4, 24, 2)
            img[r - 2 : r + 3, c - rng.integers(0, 6) : c + rng.integers(1, 6)] = 1.0
            img[r - rng.integers(0, 8) : r + rng.integers(1, 8), c - 1 : c + 2] = 1.0
    return x


def export_litert(folder: Path) -> float:
    """Write `model.tflite` (+ its source hash) for `folder`; returns the largest output difference."""
    import tensorflow as tf

    folder = Path(folder)
    keras_runtime = KerasRuntime(folder / KERAS_FILE)
    converter = tf.lite.TFLiteConverter.from_keras_model(keras_runtime.model)
    flatbuffer = converter.convert()
    candidate = folder / (LITERT_FILE + ".new")
    candidate.write_bytes(flatbuffer)
    x = check_inputs()
    difference = float(np.abs(LiteRTRuntime(candidate)(x) - keras_runtime(x)).max())
    if difference > TOLERANCE:
        candidate.unlink()
        raise RuntimeError(f"LiteRT outputs differ from Keras by {difference:.2e} > {TOLERANCE}: not exported")
    candidate.replace(folder / LITERT_FILE)
    write_litert_source(folder, difference)
    return difference


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="model folder holding model.keras")
    args = parser.parse_args(argv)
    difference = export_litert(Path(args.folder))
    print(f"wrote {Path(args.folder) / LITERT_FILE} (largest difference from Keras {difference:.1e})")


if __name__ == "__main__":
    main()
