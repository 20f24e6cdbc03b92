"""Where a task's weights come from: the model folder layout and its metadata.

A model folder (`models/<task>/`) holds `model.keras` (the weights), `metrics.json` (version and
measured figures, machine-readable) and `README.md` (the model card). The app serves the bundled
folders; `resolve_model` is the one place that decides which folder a task is served from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from handwriting.config import settings
from handwriting.labels import labels_for

WEIGHTS_FILE = "model.keras"
METRICS_FILE = "metrics.json"
CARD_FILE = "README.md"


class ModelUnavailableError(RuntimeError):
    """No weights can be found for a task; the message says what is missing."""


@dataclass(frozen=True)
class ModelRecord:
    task: str
    folder: Path
    version: str
    source: str  # for people: where these weights came from
    metrics: dict = field(default_factory=dict)

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS_FILE

    def describe(self) -> str:
        return f"{self.task} model {self.version} ({self.source})"


def read_model_folder(task: str, folder: Path, source: str) -> ModelRecord:
    """Check a model folder and read its metadata."""
    labels_for(task)  # an unknown task fails here, with its own clear message
    if not (folder / WEIGHTS_FILE).is_file():
        raise ModelUnavailableError(f"The {task} model is not available: {folder / WEIGHTS_FILE} is missing.")
    metrics = {}
    if (folder / METRICS_FILE).is_file():
        metrics = json.loads((folder / METRICS_FILE).read_text())
    return ModelRecord(task, folder, str(metrics.get("version", "unversioned")), source, metrics)


def resolve_model(task: str) -> ModelRecord:
    """The model folder to serve `task` from: the bundled one under `models/`."""
    folder = settings().models_dir / task
    return read_model_folder(task, folder, source=f"bundled {folder}")
