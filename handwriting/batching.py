"""Opportunistic micro-batching: requests that arrive together share one model call.

Gradio's own `batch=True` fails every request of a batch when one of them raises, so a bad upload
would take its neighbours down with it. Here each request is validated and preprocessed on its own;
only the model call is shared. A lone request never waits: the worker takes whatever is queued the
moment it is free, so batches only form under load, which is when they pay.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable

import numpy as np


class MicroBatcher:
    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], max_batch: int = 64, name: str = "batcher"):
        self._fn = fn
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[np.ndarray, Future]] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)
        self._worker.start()

    def __call__(self, x: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Run one sample through the shared model call and return its row of the output."""
        future: Future = Future()
        self._queue.put((x, future))
        return future.result(timeout=timeout)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self._max_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                out = self._fn(np.stack([x for x, _ in items]))
            except Exception as exc:  # the model failed: every waiting caller hears why
                for _, future in items:
                    future.set_exception(exc)
                continue
            for row, (_, future) in zip(out, items):
                future.set_result(row)
