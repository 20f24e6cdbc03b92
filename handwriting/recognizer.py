"""The one predict path every tab, endpoint and script uses: image + task -> {label: confidence}.

Models are loaded lazily, the first time a task is asked for, so tasks nobody uses cost no memory;
concurrent requests for the same task share model calls through a micro-batcher.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from handwriting.batching import MicroBatcher
from handwriting.labels import labels_for
from handwriting.preprocessing import to_model_input
from handwriting.store import ModelRecord, resolve_model

log = logging.getLogger("handwriting")


class Recognizer:
    """One task's model, ready to answer."""

    def __init__(self, record: ModelRecord):
        from handwriting.runtime import load_runtime

        self.record = record
        self.labels = labels_for(record.task)
        self.runtime = load_runtime(record.folder)
        if self.runtime.num_classes != len(self.labels):
            raise ValueError(
                f"{record.weights} has {self.runtime.num_classes} outputs but task {record.task!r} has {len(self.labels)} labels."
            )
        self._batched = MicroBatcher(self.runtime, name=f"{record.task}-batcher")

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """One preprocessed 28x28 image -> its class probabilities (shares model calls under load)."""
        return self._batched(x)


_recognizers: dict[str, Recognizer] = {}
_lock = threading.Lock()


def get_recognizer(task: str) -> Recognizer:
    """The task's recognizer, loaded on first use."""
    labels_for(task)  # unknown task -> clear error before any loading
    with _lock:
        if task not in _recognizers:
            _recognizers[task] = Recognizer(resolve_model(task))
        return _recognizers[task]


def predict(image, task: str = "digits") -> dict[str, float]:
    """Any supported input -> {label: probability}. Raises InvalidImageError / UnknownTaskError.

    The input is checked before the model is loaded: a blank canvas is refused at once, even while
    the model is still loading."""
    return predict_with_input(image, task)[0]


def predict_with_input(image, task: str = "digits") -> tuple[dict[str, float], np.ndarray]:
    """`predict`, and the 28x28 model input it was made from (the page shows it: what the model saw)."""
    labels = labels_for(task)
    x = to_model_input(image)
    return dict(zip(labels, map(float, get_recognizer(task).probabilities(x)))), x


def top_k(probabilities: dict[str, float], k: int = 3) -> list[tuple[str, float]]:
    return sorted(probabilities.items(), key=lambda kv: kv[1], reverse=True)[:k]


def warm_up(task: str = "digits") -> None:
    """Load a task's model and trace its inference function, so the first visitor does not wait."""
    try:
        recognizer = get_recognizer(task)
        recognizer.probabilities(np.zeros((28, 28), np.float32))
        log.info("serving %s", recognizer.record.describe())
    except Exception as exc:  # the app still starts; requests for this task will say what is wrong
        log.warning("could not load the %s model at start-up: %s", task, exc)
