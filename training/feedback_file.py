"""The feedback training file, in one place: what the app's feedback export writes and retraining reads.

A compressed .npz with x (uint8 N x 28 x 28, white ink on black: the exact model input), y (indices into
labels; len(labels), the place a "?" model's none unit has, for a picture the person said is none of them),
labels, task, ids (feedback record ids), source ("app", "api", "game") and was_correct.
`python -m training.feedback export` and `training.synthetic_feedback` write it; `training.retrain` reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from handwriting.refusal import REFUSED
from handwriting.tasks import labels_for

if TYPE_CHECKING:
    from handwriting.feedback import FeedbackRecord


@dataclass
class TrainingSet:
    task: str
    x: np.ndarray  # uint8 N x 28 x 28, white ink on black (MNIST convention)
    y: np.ndarray  # int64 N, indices into `labels` (the right answers); len(labels): none of them ("?")
    labels: tuple[str, ...]  # the task's labels, in model output order
    ids: np.ndarray  # str N, feedback record ids
    source: np.ndarray  # str N, "app" / "api" / "game"
    was_correct: np.ndarray  # bool N, whether the model had it right

    def __len__(self) -> int:
        return len(self.y)


def training_set(records: Iterable[FeedbackRecord], task: str) -> TrainingSet:
    """The task's records (first of each id, in the order given) as arrays for training."""
    labels = labels_for(task)
    seen: set[str] = set()
    chosen = []
    for r in records:
        if r.task == task and r.id not in seen:
            seen.add(r.id)
            chosen.append(r)
    return TrainingSet(
        task=task,
        x=np.stack([r.pixels() for r in chosen]).astype(np.uint8) if chosen else np.zeros((0, 28, 28), np.uint8),
        y=np.array([len(labels) if r.correct == REFUSED else labels.index(r.correct) for r in chosen], dtype=np.int64),
        labels=labels,
        ids=np.array([r.id for r in chosen], dtype=str),
        source=np.array([r.source for r in chosen], dtype=str),
        was_correct=np.array([r.was_correct for r in chosen], dtype=bool),
    )


def save_training_file(path: Path | str, data: TrainingSet) -> Path:
    """Write `data` as the retraining pipeline's .npz (keys x, y, labels, task, ids, source, was_correct)."""
    n = len(data.y)
    if data.x.shape != (n, 28, 28) or data.x.dtype != np.uint8:
        raise ValueError(f"x must be uint8 N x 28 x 28, got {data.x.dtype} {data.x.shape}")
    if not all(len(a) == n for a in (data.ids, data.source, data.was_correct)):
        raise ValueError("x, y, ids, source and was_correct must have the same length")
    if n and (data.y.min() < 0 or data.y.max() > len(data.labels)):
        raise ValueError("y holds an index outside labels (and len(labels), none of them)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:  # a file object: numpy would otherwise append ".npz" to the name
        np.savez_compressed(
            f, x=data.x, y=data.y.astype(np.int64), labels=np.array(list(data.labels)), task=np.array(data.task),
            ids=np.array(data.ids, dtype=str), source=np.array(data.source, dtype=str),
            was_correct=np.array(data.was_correct, dtype=bool),
        )
    os.replace(tmp, path)
    return path


def load_training_file(path: Path | str) -> TrainingSet:
    with np.load(path, allow_pickle=False) as d:
        return TrainingSet(
            task=str(d["task"]), x=d["x"], y=d["y"].astype(np.int64), labels=tuple(str(s) for s in d["labels"]),
            ids=d["ids"], source=d["source"], was_correct=d["was_correct"].astype(bool),
        )
