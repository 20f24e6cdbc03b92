"""The recognition tasks: one frozen `Task` per task, in one registry.

A task is what a model recognises ("digits", "letters", "all"): its labels in the order of the model's
output units, what the page calls it, how the reader splits a line for it, and which model folder serves
it. The edge turns the name a caller sent into a `Task` once (`get_task`); everything below takes the
`Task`. Adding a task is one `register(Task(...))` plus a model folder named after it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from handwriting.text import shorten

DIGITS = tuple(string.digits)
LETTERS = tuple(string.ascii_uppercase + string.ascii_lowercase)

# Characters whose shapes coincide once preprocessing has normalised their size and position: the case
# pairs written the same way, plus 0/O and 1/l/I. A fact of the problem, not a model fault: the model
# cards report accuracy with these folded together, and the page names the other members in words.
LOOKALIKES: tuple[tuple[str, ...], ...] = (
    ("C", "c"), ("K", "k"), ("O", "o", "0"), ("P", "p"), ("S", "s"), ("U", "u"), ("V", "v"),
    ("W", "w"), ("X", "x"), ("Y", "y"), ("Z", "z"), ("I", "l", "1"),
)


class UnknownTaskError(ValueError):
    """Raised for a task name that is not registered."""


@dataclass(frozen=True)
class Task:
    """One recognition task. `split_margin`: how much surer than the whole a split must make the reader
    before it cuts a piece of a line in two (letters, less sure of whole shapes, need a wider one)."""

    name: str
    labels: tuple[str, ...]
    title: str  # what the page calls it: "Letters"
    span: str  # what it covers, in short: "A-Z, a-z"
    noun: str  # one of its characters, in words: "letter"
    split_margin: float = 4.0
    model_name: str = ""  # the model folder serving it (bundled models/<model_name>/, <model_name>/ on the hub)
    _index: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.model_name:
            object.__setattr__(self, "model_name", self.name)
        object.__setattr__(self, "_index", {label: i for i, label in enumerate(self.labels)})

    @property
    def choice(self) -> str:
        """The task as a page offers it: "Letters (A-Z, a-z)"."""
        return f"{self.title} ({self.span})"

    def index(self, label: str) -> int:
        """The output unit of `label` (KeyError if it is none of the task's)."""
        return self._index[label]

    def has(self, label) -> bool:
        return isinstance(label, str) and label in self._index

    def lookalikes_of(self, char: str) -> tuple[str, ...]:
        """The task's other characters that `char` cannot be told from by shape alone."""
        return tuple(c for c in lookalikes_of(char) if c in self._index)

    def __str__(self) -> str:
        return self.name


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add (or replace) a task: the one step besides its model folder that adding a task takes."""
    TASKS[task.name] = task
    return task


def unregister(name: str) -> None:
    TASKS.pop(name, None)


register(Task("digits", DIGITS, "Digits", "0-9", "digit", split_margin=2.0))
register(Task("letters", LETTERS, "Letters", "A-Z, a-z", "letter"))
register(Task("all", DIGITS + LETTERS, "All characters", "0-9, A-Z, a-z", "character"))


def get_task(task) -> Task:
    """The registered `Task` named `task` (a `Task` is returned as it is); UnknownTaskError otherwise."""
    if isinstance(task, Task):
        return task
    found = TASKS.get(task) if isinstance(task, str) else None
    if found is None:
        known = ", ".join(repr(t) for t in TASKS)
        what = f"task {shorten(task)!r}" if isinstance(task, str) else f"task of type {type(task).__name__}"
        raise UnknownTaskError(f"Unknown {what}: choose one of {known}.")
    return found


def lookalikes_of(char: str) -> tuple[str, ...]:
    """The other characters `char` cannot be told from by shape alone (empty if none)."""
    for group in LOOKALIKES:
        if char in group:
            return tuple(c for c in group if c != char)
    return ()


def unambiguous_name(char: str) -> str:
    """`char` in words that no font can blur: "capital I", "lowercase l", "digit 1"; "?" is no character."""
    if char == "?":
        return "no character"
    if len(char) != 1:
        raise ValueError(f"one character expected, not {char!r}")
    if char.isdigit():
        return f"digit {char}"
    if char.isupper():
        return f"capital {char}"
    if char.islower():
        return f"lowercase {char}"
    return char


def labels_for(task) -> tuple[str, ...]:
    """A task's labels, for scripts that take a task's name (training, evaluation)."""
    return get_task(task).labels
