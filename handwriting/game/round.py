"""One round of the game and its attempts: what was asked, drawn, judged and scored (state only; the rules
that change it are in `rounds`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from handwriting.game.rules import GRACE_S, task_of
from handwriting.tasks import Task


@dataclass
class Attempt:
    """One target: drawn (right or wrong) or skipped."""

    target: str
    predicted: str | None  # None: skipped
    right: bool  # what the model saw is the target or one of its look-alikes
    confidence: float  # the model's probability for the target (and its look-alikes)
    predicted_confidence: float  # ... and for what it saw
    seconds: float  # from the target being shown to the drawing arriving
    points: int
    image: np.ndarray | None = None  # the 28x28 model input of a wrong drawing (white on black), for the summary
    stored_id: str | None = None  # the feedback record of a kept drawing
    unscored: str | None = None  # why a right answer scored nothing: "too fast" or "repeat"

    @property
    def skipped(self) -> bool:
        return self.predicted is None

    def verdict(self) -> dict:
        return {"target": self.target, "predicted": self.predicted, "right": self.right, "skipped": self.skipped,
                "confidence": round(self.confidence, 4), "predicted_confidence": round(self.predicted_confidence, 4),
                "seconds": round(self.seconds, 2), "points": self.points, "stored_id": self.stored_id,
                "unscored": self.unscored}


@dataclass
class Round:
    id: str
    mode: str
    seconds: int
    name: str
    opt_in: bool
    started: float  # monotonic
    deadline: float  # monotonic
    deadline_unix: float
    target: str
    target_since: float  # monotonic
    source: str = "api"  # one of SOURCES
    client: str = ""  # the address it was started from (for the per-client cap)
    score: int = 0
    streak: int = 0
    best_streak: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    finished: bool = False
    high_score_rank: int | None = None
    held_back: str | None = None  # why the round was kept off the high-score table, for the player
    seen: list = field(default_factory=list, repr=False)  # the round's drawings as model inputs, for repeats
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def task(self) -> Task:
        return task_of(self.mode)  # a mode plays the task of the same name

    def remaining(self, now: float) -> float:
        return max(0.0, self.deadline - now)

    def in_play(self, now: float) -> bool:
        return not self.finished and now <= self.deadline + GRACE_S

    @property
    def drawn(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.skipped]

    @property
    def right(self) -> int:
        return sum(a.right for a in self.attempts)

    @property
    def misses(self) -> list[Attempt]:
        return [a for a in self.drawn if not a.right]

    def state(self, now: float) -> dict:
        """What a player may know of the round now."""
        return {
            "round_id": self.id, "mode": self.mode, "name": self.name, "opt_in": self.opt_in, "source": self.source,
            "seconds": self.seconds, "remaining": round(self.remaining(now), 2), "deadline_unix": self.deadline_unix,
            "over": self.finished, "target": None if self.finished else self.target,
            "score": self.score, "streak": self.streak, "best_streak": self.best_streak,
            "right": self.right, "drawn": len(self.drawn), "skipped": len(self.attempts) - len(self.drawn),
        }

    def summary(self) -> dict:
        """The end-of-round report: totals, and every drawing the model got wrong with what it saw."""
        right_times = [a.seconds for a in self.attempts if a.right]
        return {
            "score": self.score, "right": self.right, "drawn": len(self.drawn),
            "skipped": len(self.attempts) - len(self.drawn),
            "accuracy": round(self.right / len(self.drawn), 4) if self.drawn else None,
            "best_streak": self.best_streak,
            "mean_seconds_right": round(sum(right_times) / len(right_times), 2) if right_times else None,
            "kept_for_training": sum(a.stored_id is not None for a in self.attempts),
            "high_score_rank": self.high_score_rank, "held_back": self.held_back,
            "misses": [{"target": a.target, "predicted": a.predicted, "confidence": round(a.confidence, 4),
                        "predicted_confidence": round(a.predicted_confidence, 4)} for a in self.misses],
        }


def picture_of(x) -> np.ndarray | None:
    """The 28x28 image the model saw (white on black, uint8), for the summary's failed drawings."""
    if not isinstance(x, np.ndarray):
        return None
    return np.round(x.reshape(28, 28) * 255).astype(np.uint8)
