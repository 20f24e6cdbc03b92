"""The "?" answer: deciding from a model's output probabilities that a picture is none of the task's characters.

A model folder says how its model refuses in `refusal.json` beside `model.tflite`:

    {"format": 1, "none_unit": true, "none_threshold": 0.5, "min_confidence": 0.0, ...}

- `none_unit`: the model has one output unit more than the task has labels, the LAST one, meaning "none of
  them" (its raw output has N+1 units); without it the output has exactly N units.
- `none_threshold`: refuse when the "none" unit's probability is at least this (needs `none_unit`).
- `min_confidence`: refuse when the most likely real character's probability is below this (0: never).
- `in_a_line` (optional): {"none_threshold": ..., "min_confidence": ...} for a character the reader found in
  a line of writing. Its neighbours make it far likelier to be a character than a lone picture is, and one
  "?" spoils a whole number, so these are calibrated to refuse fewer real characters (`for_lines`).

A folder without `refusal.json` (every model published before "?") never refuses, as before. Whatever
is decided, the answer lists the real characters closest to the picture with the model's probabilities.
Pure numpy, so serving, the game, the reader and the training scripts share one decision.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REFUSAL_FILE = "refusal.json"
REFUSED = "?"
FORMAT = 1


class RefusalPolicyError(ValueError):
    """A refusal.json that cannot be used (a damaged or foreign file): one line for the log."""


@dataclass(frozen=True)
class RefusalPolicy:
    none_unit: bool = False
    none_threshold: float = 1.0
    min_confidence: float = 0.0
    details: dict = field(default_factory=dict, compare=False)  # how the thresholds were chosen (for the card)

    def for_lines(self) -> "RefusalPolicy":
        """The policy for a character in a line of writing: the `in_a_line` thresholds where the file has
        them, else this policy."""
        line = self.details.get("in_a_line")
        if not line:
            return self
        return RefusalPolicy(self.none_unit, float(line.get("none_threshold", self.none_threshold)),
                             float(line.get("min_confidence", self.min_confidence)), dict(line))

    @classmethod
    def never(cls) -> "RefusalPolicy":
        """Today's behaviour: the most likely character, whatever the picture."""
        return cls()

    @classmethod
    def load(cls, folder: Path | str) -> "RefusalPolicy":
        """The policy of a model folder: its refusal.json, else `never()`."""
        path = Path(folder) / REFUSAL_FILE
        if not path.is_file():
            return cls.never()
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format') if isinstance(data, dict) else None!r} is not {FORMAT}")
            policy = cls(none_unit=bool(data.get("none_unit", False)),
                         none_threshold=float(data.get("none_threshold", 1.0)),
                         min_confidence=float(data.get("min_confidence", 0.0)),
                         details={k: v for k, v in data.items()
                                  if k not in ("format", "none_unit", "none_threshold", "min_confidence")})
        except (OSError, ValueError, TypeError) as error:
            raise RefusalPolicyError(f"{path}: not a usable refusal policy ({error})") from None
        checks = {"none_threshold": policy.none_threshold, "min_confidence": policy.min_confidence}
        line = policy.details.get("in_a_line")
        if line is not None:
            if not isinstance(line, dict):
                raise RefusalPolicyError(f"{path}: in_a_line must be an object")
            checks.update({f"in_a_line.{k}": line.get(k, 0.0) for k in ("none_threshold", "min_confidence")})
        for name, value in checks.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise RefusalPolicyError(f"{path}: {name} must lie in [0, 1]")
        return policy

    def save(self, folder: Path | str) -> Path:
        path = Path(folder) / REFUSAL_FILE
        data = {"format": FORMAT, **{k: v for k, v in asdict(self).items() if k != "details"}, **self.details}
        path.write_text(json.dumps(data, indent=1) + "\n")
        return path

    def output_units(self, labels: tuple[str, ...]) -> int:
        """How many output units a model with this policy has for `labels`."""
        return len(labels) + (1 if self.none_unit else 0)


@dataclass(frozen=True)
class Answer:
    label: str  # the character, or "?" when the picture is none of the task's characters
    top: tuple[tuple[str, float], ...]  # the closest real characters, most likely first, with their probabilities
    none_probability: float  # the "none" unit's probability (0 for a model without one)

    @property
    def refused(self) -> bool:
        return self.label == REFUSED

    @property
    def none_confidence(self) -> float:
        """How sure the model is that the picture is none of the characters: its "none" unit, or (a model
        without one) what the closest character leaves."""
        return self.none_probability if self.none_probability else 1.0 - self.top[0][1]

    def top_given_character(self) -> tuple[tuple[str, float], ...]:
        """`top` with each probability divided by the characters' share (1 - none): how the closest characters
        compare if the picture is one of them (what "Closest: 5 (60%), 4 (20%)" can show for a "?")."""
        share = 1.0 - self.none_probability
        if share <= 0.0:
            return tuple((label, 0.0) for label, _ in self.top)
        return tuple((label, min(1.0, p / share)) for label, p in self.top)


def decide(probabilities: np.ndarray, labels: tuple[str, ...], policy: RefusalPolicy, k: int = 3) -> Answer:
    """The answer for one picture from the model's output row (N or N+1 probabilities, as the policy says)."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if len(p) != policy.output_units(labels):
        raise ValueError(f"the model gave {len(p)} outputs; {len(labels)} labels"
                         f"{' plus a none unit' if policy.none_unit else ''} expect {policy.output_units(labels)}")
    real, none = (p[:-1], float(p[-1])) if policy.none_unit else (p, 0.0)
    order = np.argsort(-real, kind="stable")[:k]
    top = tuple((labels[i], float(real[i])) for i in order)
    refused = (policy.none_unit and none >= policy.none_threshold) or float(real[order[0]]) < policy.min_confidence
    return Answer(REFUSED if refused else labels[order[0]], top, none)


def refused_mask(probabilities: np.ndarray, policy: RefusalPolicy) -> np.ndarray:
    """For a batch (M x units), which rows `decide` would answer "?" (evaluation and the retraining gate)."""
    p = np.asarray(probabilities, dtype=np.float64)
    real = p[:, :-1] if policy.none_unit else p
    out = real.max(1) < policy.min_confidence
    if policy.none_unit:
        out |= p[:, -1] >= policy.none_threshold
    return out
