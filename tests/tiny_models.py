"""Tiny but real model folders (weights, their LiteRT copy, metrics.json, model card) for the store and publish tests.

Real model files, not placeholders, so the store's verification (load, check input and outputs) runs;
small (a dense layer on the pixels) so each saves, converts and loads in about a second.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path


@functools.lru_cache(maxsize=None)
def keras_file(outputs: int = 10, seed: int = 0) -> bytes:
    """The bytes of a `.keras` file mapping 28x28x1 images to `outputs` softmax units."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(outputs, activation="softmax")], name=f"tiny_{outputs}_{seed}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


@functools.lru_cache(maxsize=None)
def litert_files(outputs: int = 10, seed: int = 0) -> tuple[bytes, bytes]:
    """(model.tflite, model.tflite.json) converted from `keras_file(outputs, seed)` by `training.export`."""
    from training.export import export_litert

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "model.keras").write_bytes(keras_file(outputs, seed))
        export_litert(folder)
        return (folder / "model.tflite").read_bytes(), (folder / "model.tflite.json").read_bytes()


def folder_files(task: str = "digits", version: str = "1.0.0", outputs: int = 10, seed: int = 0,
                 prefix: str = "", litert: bool = True) -> dict[str, bytes]:
    """{path: content} of a model folder; `prefix` (e.g. "digits/") places it inside a hub repo. With `litert`
    (the default) the folder has its current serving copy, as `training.export` writes it."""
    metrics = {
        "task": task,
        "version": version,
        "results": {"mnist_test": {"n": 200, "accuracy": 0.5 + seed / 100, "top3_accuracy": 0.9}},
        "headline": f"MNIST test {0.5 + seed / 100:.2%}",
    }
    card = (f"---\nlibrary_name: keras\nlicense: mit\ntags:\n- {task}\n---\n\n"
            f"# Tiny {task} model, version {version}\n")
    files = {
        f"{prefix}model.keras": keras_file(outputs, seed),
        f"{prefix}metrics.json": json.dumps(metrics).encode(),
        f"{prefix}README.md": card.encode(),
    }
    if litert:
        files[f"{prefix}model.tflite"], files[f"{prefix}model.tflite.json"] = litert_files(outputs, seed)
    return files


def write_folder(folder: Path, **kwargs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in folder_files(**kwargs).items():
        (folder / name).write_bytes(content)
    return folder
