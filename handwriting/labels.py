"""The label sets of every task, in the order of the model's output units.

A task name ("digits", "letters", "all") is what the UI, the API, the model folders and the
training scripts all use; this module is the one place that maps it to its classes.
"""

import string

DIGITS = tuple(string.digits)
LETTERS = tuple(string.ascii_uppercase + string.ascii_lowercase)

TASK_LABELS: dict[str, tuple[str, ...]] = {
    "digits": DIGITS,
    "letters": LETTERS,
    "all": DIGITS + LETTERS,
}

TASK_TITLES = {"digits": "Digits", "letters": "Letters", "all": "All characters"}


class UnknownTaskError(ValueError):
    """Raised for a task name that is not one of TASK_LABELS."""


def labels_for(task: str) -> tuple[str, ...]:
    """The class labels of `task`, in output-unit order."""
    try:
        return TASK_LABELS[task]
    except KeyError:
        known = ", ".join(repr(t) for t in TASK_LABELS)
        raise UnknownTaskError(f"Unknown task {task!r}: choose one of {known}.") from None
