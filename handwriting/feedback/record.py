"""A piece of feedback: the record, the checks on what a caller sends, and what an idempotency key binds.

Every "Is this correct?" answer becomes a `FeedbackRecord`: the task, the model version, what the model
said and how sure it was, the right label, and the 28x28 model input (so retraining sees exactly what the
model saw). The caller (the page, the API, the game) has already run the model: it passes the model input,
the prediction, its confidence and the model version, so nothing here loads a model. Each label is checked
once, where the record is made.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Mapping

import numpy as np
from PIL import Image

from handwriting.refusal import REFUSED
from handwriting.tasks import Task, get_task
from handwriting.text import shorten

SOURCES = ("app", "api", "game")  # where a record came from: the page, the API, the drawing game


class InvalidFeedbackError(ValueError):
    """The feedback cannot be accepted as sent (a label outside the task, an image too large...); for the user."""


class FeedbackStorageError(RuntimeError):
    """The local store cannot be written (disk full, folder not writable); nothing was stored."""


@dataclass(frozen=True)
class FeedbackRecord:
    id: str
    created_at: str  # UTC, ISO 8601 with a Z
    task: str  # the task's name
    model_version: str
    predicted: str
    confidence: float  # the model's probability for `predicted`
    correct: str
    source: str  # one of SOURCES
    # the 28x28 model input, white ink on black, as a base64 PNG: the one encoding both the SQLite column and
    # a sheet cell hold, made once per record
    image_png_b64: str
    original_file: str = ""  # the upload as kept (`read_original`), relative to the data folder; kept locally
    # only, shared by every record of the same picture; "" once dropped to keep within the originals' budget

    @property
    def was_correct(self) -> bool:
        return self.predicted == self.correct

    def pixels(self) -> np.ndarray:
        """The 28x28 uint8 image (white ink on black, MNIST convention)."""
        return decode_png(self.image_png_b64)


def as_pixels(x) -> np.ndarray:
    """A 28x28 model input as uint8 pixels: uint8 is taken as it is, floats in [0, 1] are scaled once."""
    x = np.asarray(x).reshape(28, 28)
    if x.dtype == np.uint8:
        return x
    return np.round(np.clip(x.astype(np.float32), 0, 1) * 255).astype(np.uint8)


def encode_png(pixels: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode_png(text: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(text))) as img:
        return np.asarray(img.convert("L"), dtype=np.uint8)


def check_label(label, task: Task, role: str = "correct") -> str:
    """`label` if it is one of the task's labels or "?"; InvalidFeedbackError saying which are, otherwise.

    "?" predicted is the model's "none of them"; "?" correct is the person saying the picture is none of the
    task's characters (a doodle read as a 5, or a "?" confirmed): what a "?" head learns "none" from."""
    task = get_task(task)
    if label is not None and not isinstance(label, str):
        raise InvalidFeedbackError(f"The {role} label must be text, not {type(label).__name__}.")
    text = (label or "").strip()
    choices = f"{_label_list(task.labels)}, or {REFUSED} for none of them"
    if not text:
        raise InvalidFeedbackError(f"No {role} label was given: choose one of {choices}.")
    if not task.has(text) and text != REFUSED:
        raise InvalidFeedbackError(f"{shorten(text)!r} is not a label of the {task.name} task: choose one of {choices}.")
    return text


MAX_TEXT = 64  # characters of a read's text


def check_text(text, task: Task, role: str = "correct") -> str:
    """A read's text: every character one of the task's labels (no spaces; a text read may hold "?", a piece
    that was no character); InvalidFeedbackError otherwise."""
    task = get_task(task)
    if text is not None and not isinstance(text, str):
        raise InvalidFeedbackError(f"The {role} text must be text, not {type(text).__name__}.")
    text = (text or "").strip()
    if not text:
        raise InvalidFeedbackError(f"No {role} text was given: write what the picture says.")
    if len(text) > MAX_TEXT:
        raise InvalidFeedbackError(f"The {role} text is too long ({len(text):,} characters): at most {MAX_TEXT}.")
    strangers = sorted({c for c in text if not task.has(c) and not (role == "predicted" and c == REFUSED)})
    if strangers:
        shown = ", ".join(repr(c) for c in strangers[:5])
        raise InvalidFeedbackError(f"The {role} text holds {shown}, not labels of the {task.name} task: use only "
                                   f"{_label_list(task.labels)}.")
    return text


def check_confidence(confidence) -> float:
    """A model's probability: a number in [0, 1] (NaN and 1e300 are not)."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise InvalidFeedbackError("The confidence must be a probability between 0 and 1.")
    return value


def check_source(source) -> str:
    if source not in SOURCES:
        raise InvalidFeedbackError(f"Unknown feedback source {source!r}: one of {', '.join(SOURCES)}.")
    return source


REQUEST_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def check_request_key(key) -> str | None:
    """An API caller's idempotency key (None: none given); InvalidFeedbackError if malformed."""
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not REQUEST_KEY.fullmatch(key):
        raise InvalidFeedbackError("The Idempotency-Key must be 1 to 128 letters, digits or . _ : - characters.")
    return key


def _label_list(labels) -> str:
    return ", ".join(labels) if len(labels) <= 12 else f"{', '.join(labels[:3])}, ..., {labels[-1]} ({len(labels)} labels)"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_record(x, task: Task, predicted, correct, *, confidence: float | Mapping[str, float], model_version: str,
                source: str = "api") -> FeedbackRecord:
    """Check one piece of feedback and build its record from the model input `x` (28x28: floats in [0, 1] or
    uint8 pixels, white ink on black) and what the model said of it. Nothing is stored here.

    `confidence` is the model's probability for `predicted`, or all its probabilities by label (a caller
    that has not checked `predicted` yet picks from them here, after the check). A task name is looked up
    once. Raises UnknownTaskError or InvalidFeedbackError, each with a message for the user.
    """
    task = get_task(task)
    predicted = check_label(predicted, task, "predicted")
    correct = check_label(correct, task, "correct")
    if isinstance(confidence, Mapping):
        confidence = confidence.get(predicted)
    return _record(x, task, predicted, correct, check_confidence(confidence), str(model_version), check_source(source))


def _record(x, task: Task, predicted: str, correct: str, confidence: float, model_version: str,
            source: str) -> FeedbackRecord:
    """A record from values already checked."""
    return FeedbackRecord(id=uuid.uuid4().hex, created_at=_now(), task=task.name, model_version=model_version,
                          predicted=predicted, confidence=confidence, correct=correct, source=source,
                          image_png_b64=encode_png(as_pixels(x)))


@dataclass(frozen=True)
class ReadFeedback:
    """Feedback on a line that was read (`/read`, the Read tab): the text read and the text it says.

    When the correction has one character per character read (`matched`), each character is also stored
    as a FeedbackRecord (its 28x28 input, what was read, what it is), listed in `record_ids` beside its
    `boxes`; otherwise the correction is kept whole, with the picture, for someone to sort out."""

    id: str
    created_at: str
    task: str
    model_version: str
    predicted: str  # the text read
    correct: str  # the text the picture says
    matched: bool
    boxes: str  # JSON [[x0, y0, x1, y1], ...]: each character read, in the input's pixels
    record_ids: str  # JSON [record id, ...] in the same order when matched, else []
    source: str
    original_file: str = ""


def make_read_feedback(task: Task, predicted, correct, characters, *, model_version: str, source: str = "api",
                       read_as: str | None = None) -> tuple[ReadFeedback, list[FeedbackRecord]]:
    """Check feedback on a read and build it, with one FeedbackRecord per character when the correction
    matches them one to one. `characters` are (model input, label read, confidence, box) in reading order;
    `read_as`, when the picture was read again here, is the text that reading gave: `predicted` must be it."""
    task = get_task(task)
    predicted = check_text(predicted, task, "predicted")
    if read_as is not None and read_as != predicted:
        raise InvalidFeedbackError(f"This picture reads as {shorten(read_as)!r}, not {predicted!r}: send the text "
                                   "/read gave for it as the predicted text.")
    correct = check_text(correct, task)
    source = check_source(source)
    matched = len(correct) == len(characters)
    records = [_record(x, task, check_label(label, task, "predicted"), right, check_confidence(confidence),
                       str(model_version), source)
               for (x, label, confidence, _), right in zip(characters, correct)] if matched else []
    read = ReadFeedback(
        id=uuid.uuid4().hex, created_at=_now(), task=task.name, model_version=str(model_version), predicted=predicted,
        correct=correct, matched=matched, boxes=json.dumps([list(map(int, box)) for *_, box in characters]),
        record_ids=json.dumps([r.id for r in records]), source=source,
    )
    return read, records


def request_fingerprint(original, task, predicted, correct) -> str:
    """What an idempotency key stands for: the picture's content (`original`: an `Original` or None), the task
    and both labels (or texts). A key reused with another request is refused by comparing these. Labels count as sent, spaces trimmed, so a
    caller may look a key up before checking them."""
    parts = [original.digest if original is not None else "", *("" if v is None else str(v).strip()
                                                                 for v in (task, predicted, correct))]
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()


RECORD_COLUMNS = [f.name for f in fields(FeedbackRecord)]  # as every store keeps them, in this order
READ_COLUMNS = [f.name for f in fields(ReadFeedback)]
