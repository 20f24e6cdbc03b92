"""The label sets of every task, in the order of the model's output units.

A task name ("digits", "letters", "all") is what the UI, the API, the model folders and the
training scripts all use; this module is the one place that maps it to its classes.
"""

import string

from handwriting.text import shorten

DIGITS = tuple(string.digits)
LETTERS = tuple(string.ascii_uppercase + string.ascii_lowercase)

TASK_LABELS: dict[str, tuple[str, ...]] = {
    "digits": DIGITS,
    "letters": LETTERS,
    "all": DIGITS + LETTERS,
}

TASK_TITLES = {"digits": "Digits", "letters": "Letters", "all": "All characters"}  # what the page calls them
TASK_SPANS = {"digits": "0-9", "letters": "A-Z, a-z", "all": "0-9, A-Z, a-z"}


def task_choice(task: str) -> str:
    """A task as a page offers it: "Letters (A-Z, a-z)"."""
    return f"{TASK_TITLES[task]} ({TASK_SPANS[task]})"


class UnknownTaskError(ValueError):
    """Raised for a task name that is not one of TASK_LABELS."""


def labels_for(task: str) -> tuple[str, ...]:
    """The class labels of `task`, in output-unit order."""
    labels = TASK_LABELS.get(task) if isinstance(task, str) else None
    if labels is None:
        known = ", ".join(repr(t) for t in TASK_LABELS)
        what = f"task {shorten(task)!r}" if isinstance(task, str) else f"task of type {type(task).__name__}"
        raise UnknownTaskError(f"Unknown {what}: choose one of {known}.")
    return labels


# Characters whose shapes coincide once preprocessing has normalised their size and position: the case
# pairs that are written the same way (small and capital differ only in size), plus 0/O and 1/l/I in
# the 62-class task. A fact of the problem, not a model fault: the model cards report accuracy with
# these folded together beside exact accuracy, and the UI can offer the other member as an alternative.
LOOKALIKES: tuple[tuple[str, ...], ...] = (
    ("C", "c"), ("K", "k"), ("O", "o", "0"), ("P", "p"), ("S", "s"), ("U", "u"), ("V", "v"),
    ("W", "w"), ("X", "x"), ("Y", "y"), ("Z", "z"), ("I", "l", "1"),
)


def lookalikes_of(char: str) -> tuple[str, ...]:
    """The other characters `char` cannot be told from by shape alone (empty if none)."""
    for group in LOOKALIKES:
        if char in group:
            return tuple(c for c in group if c != char)
    return ()


def unambiguous_name(char: str) -> str:
    """`char` in words that no font can blur: "capital I", "lowercase l", "digit 1" (for the look-alike hint)."""
    if len(char) != 1:
        raise ValueError(f"one character expected, not {char!r}")
    if char.isdigit():
        return f"digit {char}"
    if char.isupper():
        return f"capital {char}"
    if char.islower():
        return f"lowercase {char}"
    return char
