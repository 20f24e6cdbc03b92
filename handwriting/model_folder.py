"""A model folder's layout, in one place: its file names, reading and writing its JSON files, and where the
bundled folders live. Serving, training, evaluation and publishing all go through these names, so a
folder one of them writes is a folder the others read.

    model.keras        the weights (training, evaluation; Keras)
    model.tflite       the serving copy (LiteRT), converted by `python -m training.export`
    model.tflite.json  {"keras_sha256": ...} of the model.keras it was converted from: stale when they differ
    metrics.json       version and measured figures (`training.evaluate`)
    training.json      how the weights were trained
    README.md          the model card
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from handwriting.config import PROJECT_DIR

KERAS_FILE = "model.keras"
LITERT_FILE = "model.tflite"
LITERT_SOURCE_FILE = "model.tflite.json"
METRICS_FILE = "metrics.json"
TRAINING_FILE = "training.json"
CARD_FILE = "README.md"
RETRAIN_REPORT_FILE = "retrain_report.json"

MODELS_DIR = PROJECT_DIR / "models"  # the bundled folders, models/<task>/ (HANDWRITING_MODELS_DIR overrides it)


def models_dir(cfg=None) -> Path:
    """Where the bundled model folders are now: HANDWRITING_MODELS_DIR, else models/."""
    from handwriting.config import settings

    return (cfg or settings()).models_dir or MODELS_DIR


def bundled_folder(task: str) -> Path:
    """Where the app finds `task`'s bundled model now, and training writes it."""
    return models_dir() / task


def read_json(path: Path) -> dict:
    """A JSON file's content; {} when it does not exist."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def read_metrics(folder: Path) -> dict:
    return read_json(Path(folder) / METRICS_FILE)


def write_metrics(folder: Path, metrics: dict) -> Path:
    path = Path(folder) / METRICS_FILE
    path.write_text(json.dumps(metrics, indent=1) + "\n")
    return path


def read_training(folder: Path) -> dict:
    return read_json(Path(folder) / TRAINING_FILE)


def write_training(folder: Path, record: dict) -> Path:
    path = Path(folder) / TRAINING_FILE
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_litert_source(folder: Path, max_difference: float) -> Path:
    """Record which model.keras the folder's model.tflite was converted from (and how closely it matched)."""
    folder = Path(folder)
    path = folder / LITERT_SOURCE_FILE
    path.write_text(json.dumps({"keras_sha256": sha256_of(folder / KERAS_FILE), "max_difference": max_difference},
                               indent=1) + "\n")
    return path


def litert_state(folder: Path) -> str:
    """"current" (model.tflite converted from the model.keras now beside it), "missing" or "stale"."""
    folder = Path(folder)
    if not (folder / LITERT_FILE).is_file():
        return "missing"
    try:
        recorded = json.loads((folder / LITERT_SOURCE_FILE).read_text()).get("keras_sha256")
        return "current" if recorded == sha256_of(folder / KERAS_FILE) else "stale"
    except (OSError, ValueError, AttributeError):
        return "stale"


def litert_is_current(folder: Path) -> bool:
    """True when `model.tflite` exists and was converted from the `model.keras` now in `folder`."""
    return litert_state(folder) == "current"
