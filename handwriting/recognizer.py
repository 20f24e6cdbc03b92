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
from handwriting.preprocessing import InvalidImageError, to_model_input
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

    def probabilities_many(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """Several preprocessed images -> their class probabilities, in batched model calls."""
        return self._batched.rows(xs) if xs else []


_recognizers: dict[str, Recognizer] = {}
_lock = threading.Lock()


def get_recognizer(task: str) -> Recognizer:
    """The task's recognizer, loaded on first use."""
    labels_for(task)  # unknown task -> clear error before any loading
    with _lock:
        record = resolve_model(task)  # decided once by the store; a new decision (forget_resolved) reloads
        if task not in _recognizers or _recognizers[task].record is not record:
            _recognizers[task] = Recognizer(record)
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


def _prepared_or_error(image) -> np.ndarray | InvalidImageError:
    try:
        return to_model_input(image)
    except InvalidImageError as exc:
        return exc


def predict_each(images, task: str = "digits") -> list[dict[str, float] | InvalidImageError]:
    """Many inputs -> for each, {label: probability} or the InvalidImageError that says why it cannot be read.

    Each input is preprocessed on its own, so one bad picture fails only itself; the good ones share
    batched model calls (1,000 images are about 16 calls, not 1,000)."""
    labels = labels_for(task)
    prepared = [_prepared_or_error(image) for image in images]
    good = [x for x in prepared if isinstance(x, np.ndarray)]
    rows = iter(get_recognizer(task).probabilities_many(good) if good else [])
    return [dict(zip(labels, map(float, next(rows)))) if isinstance(x, np.ndarray) else x for x in prepared]


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
