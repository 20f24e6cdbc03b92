"""The service: everything the page and the API do, as typed calls free of Gradio.

    from handwriting.service import predict, read
    predict("seven.png", "digits").label      # "7"
    read("2026.png", "digits").text            # "2026"

`ui/` only turns Gradio values into these calls and their answers back into components. Each call takes
a `Task` or a task name (parsed here, once) and raises the library's user-facing errors
(`USER_ERRORS`), whose messages are meant for people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handwriting import models, reading
from handwriting.feedback import (
    FeedbackRecord,
    FeedbackRecorder,
    FeedbackStorageError,
    InvalidFeedbackError,
    ReadFeedback,
    make_read_feedback,
    make_record,
    read_original,
    request_fingerprint,
)
from handwriting.models import ModelUnavailableError
from handwriting.preprocessing import InvalidImageError, to_model_input
from handwriting.refusal import REFUSED, Answer
from handwriting.tasks import Task, UnknownTaskError, get_task

USER_ERRORS = (InvalidImageError, UnknownTaskError, ModelUnavailableError, InvalidFeedbackError, FeedbackStorageError)


@dataclass(frozen=True)
class Prediction:
    """One picture recognised: its answer (a label, or "?" when it is none of the task's characters), every
    label's probability, the 28x28 input the model saw, and which model."""

    task: Task
    probabilities: np.ndarray  # in the order of task.labels
    model_input: np.ndarray
    model_version: str
    answer: Answer

    @classmethod
    def of(cls, model: models.Model, row: np.ndarray, model_input: np.ndarray) -> "Prediction":
        return cls(model.task, model.real(row), model_input, model.version, model.answer(row))

    @property
    def label(self) -> str:
        return self.answer.label

    @property
    def refused(self) -> bool:
        return self.answer.refused

    @property
    def confidence(self) -> float:
        """How sure the model is of its label (of "none of them", for "?")."""
        return self.confidence_of(self.label)

    def confidence_of(self, label: str) -> float:
        if label == REFUSED:
            return self.answer.none_confidence
        return float(self.probabilities[self.task.index(label)])

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The k most likely characters with their probabilities, most likely first ("?" is never one)."""
        best = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(self.task.labels[i], float(self.probabilities[i])) for i in best]

    def as_dict(self) -> dict[str, float]:
        """{label: probability} for every label."""
        return dict(zip(self.task.labels, map(float, self.probabilities)))

    def as_json(self, k: int = 3) -> dict:
        """What the API answers: the label and the top k with their confidences."""
        return {"label": self.label, "confidences": [{"label": lab, "confidence": p} for lab, p in self.top(k)]}


def predict(image, task="digits") -> Prediction:
    """Any supported input (a sketch value, a file path, bytes, a PIL image, an array) -> its Prediction.

    The input is checked before the model is loaded: a blank canvas is refused at once."""
    task = get_task(task)
    x = to_model_input(image)
    model = models.load(task)
    return Prediction.of(model, model.rows([x])[0], x)


def predict_many(images, task="digits") -> list[Prediction | InvalidImageError]:
    """Many inputs -> for each, its Prediction or the InvalidImageError that says why it cannot be read.

    Each input is preprocessed on its own, so one bad picture fails only itself; the good ones share
    batched model calls."""
    task = get_task(task)
    prepared = [_prepared_or_error(image) for image in images]
    good = [x for x in prepared if isinstance(x, np.ndarray)]
    if not good:
        return prepared
    model = models.load(task)
    rows = iter(model.rows(good))
    return [Prediction.of(model, next(rows), x) if isinstance(x, np.ndarray) else x for x in prepared]


def _prepared_or_error(image) -> np.ndarray | InvalidImageError:
    try:
        return to_model_input(image)
    except InvalidImageError as exc:
        return exc


def read(image, task="digits") -> reading.Reading:
    """A picture of a whole number or word -> its Reading (text, and each character boxed)."""
    return reading.read(image, get_task(task))


def model_info() -> dict[str, dict]:
    """Which model serves each task, where it came from and its measured accuracy."""
    return models.model_info()


class FeedbackDesk:
    """Where every piece of feedback is taken in: made into records (each label checked once, by the record)
    and stored by `recorder`."""

    def __init__(self, recorder: FeedbackRecorder):
        self.recorder = recorder

    def submit(self, image, task, predicted, correct, *, model_input: np.ndarray | None = None,
               confidence: float | None = None, model_version: str | None = None, source: str = "api",
               request_key: str | None = None) -> FeedbackRecord:
        """Store one piece of feedback on a single character; returns the stored record.

        `model_input`, `confidence` (of `predicted`) and `model_version` are what the caller showed (the page
        and the game have them); what is missing is worked out here from the picture. A `request_key`
        already used for the same request returns the record stored under it; for another request,
        InvalidFeedbackError. Nothing is written when a check fails."""
        task = get_task(task)
        original, fingerprint, earlier = self._intake(image, task, predicted, correct, request_key)
        if earlier is not None:
            return earlier
        if model_input is None:
            model_input = to_model_input(image)
        if confidence is None or model_version is None:
            model = models.load(task)
            model_version = model_version or model.version
            if confidence is None:  # every label's (and "?"'s): the record picks `predicted`'s once it has checked it
                said = Prediction.of(model, model.rows([model_input])[0], model_input)
                confidence = {label: said.confidence_of(label) for label in (*task.labels, REFUSED)}
        record = make_record(model_input, task, predicted, correct, confidence=confidence,
                             model_version=model_version, source=source)
        return self.recorder.submit(record, original, request_key=request_key, fingerprint=fingerprint)

    def submit_read(self, image, task, predicted, correct, *, read_as: reading.Reading | None = None,
                    source: str = "api", request_key: str | None = None) -> ReadFeedback:
        """Store feedback on a line read: per character when `correct` has one character per character read.

        `read_as` is the reading the caller showed (the page has it); without it the picture is read again
        here, and must read as `predicted`."""
        task = get_task(task)
        original, fingerprint, earlier = self._intake(image, task, predicted, correct, request_key)
        if earlier is not None:
            return earlier
        again = read_as is None
        if again:
            read_as = reading.read(image, task)
        read_feedback, records = make_read_feedback(
            task, predicted, correct, [(c.model_input, c.label, c.confidence, c.box) for c in read_as.characters],
            model_version=models.load(task).version, source=source, read_as=read_as.text if again else None)
        return self.recorder.submit_read(read_feedback, records, original, request_key=request_key,
                                         fingerprint=fingerprint)

    def confirmation(self, stored) -> str:
        return self.recorder.confirmation(stored)

    def _intake(self, image, task: Task, predicted, correct, request_key):
        """The upload as it is kept, what the request stands for, and the record a retry of it already stored."""
        original = read_original(image, self.recorder.max_bytes, self.recorder.original_side)
        fingerprint = request_fingerprint(original, task, predicted, correct)
        return original, fingerprint, self.recorder.earlier(request_key, fingerprint)
