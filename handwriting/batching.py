"""Opportunistic micro-batching: requests that arrive together share one model call.

Gradio's own `batch=True` fails every request of a batch when one of them raises, so a bad upload
would take its neighbours down with it. Here each request is validated and preprocessed on its own;
only the model call is shared.

There is no worker thread: the first caller to find the model free runs it, for its own sample and
for everything queued behind it (leader and followers). A lone request therefore runs the model in
its own thread, with no hand-off to another thread and back (a hand-off costs more than this model's
own call); batches form only while the model is busy, which is when they pay. One model
call at a time, so a runtime that is not thread-safe (LiteRT's interpreter) is safe behind it.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np


class _Slot:
    """One caller's sample and, once the model has run, its answer or the model's error."""

    __slots__ = ("x", "row", "error", "done")

    def __init__(self, x: np.ndarray):
        self.x = x
        self.row: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class MicroBatcher:
    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], max_batch: int = 64, name: str = "batcher"):
        self._fn = fn
        self._max_batch = max_batch
        self.name = name
        self._pending: list[_Slot] = []
        self._busy = False  # someone is running the model
        self._changed = threading.Condition(threading.Lock())

    def __call__(self, x: np.ndarray, timeout: float | None = 30.0) -> np.ndarray:
        """Run one sample through the shared model call and return its row of the output."""
        return self.rows([x], timeout)[0]

    def rows(self, xs: list[np.ndarray], timeout: float | None = 30.0) -> list[np.ndarray]:
        """Run several samples (one caller's batch) through the shared model calls; their rows, in order."""
        slots = [_Slot(x) for x in xs]
        deadline = None if timeout is None else time.monotonic() + timeout * max(1, len(slots) // self._max_batch)
        with self._changed:
            self._pending.extend(slots)
            while not all(slot.done for slot in slots):
                if self._busy:  # the model is running: our answers may be in it
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        self._pending[:] = [s for s in self._pending if s not in slots]
                        raise TimeoutError(f"{self.name}: no answer from the model within {timeout} s")
                    self._changed.wait(left)
                    continue
                self._busy = True  # the model is free and our samples still wait: we run it
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                self._changed.release()
                try:
                    self._run(batch)
                finally:
                    self._changed.acquire()
                    self._busy = False
                    self._changed.notify_all()
        for slot in slots:
            if slot.error is not None:
                raise slot.error
        return [slot.row for slot in slots]

    def _run(self, batch: list[_Slot]) -> None:
        """One model call for the batch; every caller in it gets its row, or the model's error."""
        try:
            out = self._fn(np.stack([s.x for s in batch]))
        except BaseException as exc:  # the model failed: every caller in the batch hears why
            for s in batch:
                s.error, s.done = exc, True
            return
        for row, s in zip(out, batch):
            s.row, s.done = row, True
