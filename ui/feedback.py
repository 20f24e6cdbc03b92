"""Feedback at the edge: from what a person or a script sent to a stored record, and the `/feedback` API.

The page's Yes / Send (see `ui.recognition`), the game's opted-in drawings (`ui.game`) and `/feedback`
all store through `FeedbackDesk.store`: the one place that turns an input into a record (the shared
preprocessing makes its model input; the task's model supplies the confidence and version a caller
does not know) and hands it to the recorder.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from handwriting.feedback import FeedbackRecord, InvalidFeedbackError, make_record, read_original
from handwriting.feedback.flagging import FeedbackRecorder
from handwriting.feedback.record import ReadFeedback, check_label, check_text, make_read_feedback, request_fingerprint
from handwriting.labels import TASK_LABELS, labels_for
from handwriting.preprocessing import to_model_input
from handwriting.reading import read
from handwriting.recognizer import get_recognizer
from ui.errors import USER_ERRORS, user_errors
from ui.inputs import ImageUpload

IDEMPOTENCY_HEADER = "idempotency-key"  # on /feedback: a retried call with the same key stores once


class FeedbackDesk:
    """Where every piece of feedback is taken in; `recorder` stores it."""

    def __init__(self, recorder: FeedbackRecorder):
        self.recorder = recorder

    def store(self, image, task: str, predicted, correct, *, x=None, confidence: float | None = None,
              model_version: str | None = None, source: str = "api", request_key: str | None = None) -> FeedbackRecord:
        """Validate, store and queue one piece of feedback; returns the stored record.

        `x` is the model input when the caller has it (else it is made from `image`). Raises the library's
        user-facing errors (bad label, task, image or key) before anything is written, FeedbackStorageError
        when the store cannot be written. A `request_key` already used for the same request returns the record
        stored under it; for another request, InvalidFeedbackError.
        """
        labels = labels_for(task)
        predicted = check_label(predicted, task, "predicted")
        correct = check_label(correct, task, "correct")
        original = self._original(image)
        if (earlier := self.recorder.earlier(request_key, request_fingerprint(original, task, predicted, correct))):
            return earlier
        if x is None:
            x = to_model_input(image)
        if confidence is None or model_version is None:
            recognizer = get_recognizer(task)
            model_version = model_version or recognizer.record.version
            if confidence is None:
                confidence = float(recognizer.probabilities(x)[labels.index(predicted)])
        record = make_record(x, task, predicted, correct, confidence=confidence, model_version=model_version,
                             source=source)
        return self.recorder.submit(record, original, request_key=request_key)

    def store_read(self, image, task: str, predicted, correct, *, characters: list[dict] | None = None,
                   model_version: str | None = None, source: str = "api", request_key: str | None = None) -> ReadFeedback:
        """Store feedback on a line read: per character when `correct` has one character per character read.

        `characters` ({"x", "label", "confidence", "box"} each, in reading order) are the page's own reading;
        without them the picture is read again here, and must read as `predicted`."""
        predicted = check_text(predicted, task, "predicted")
        correct = check_text(correct, task)
        original = self._original(image)
        if (earlier := self.recorder.earlier(request_key, request_fingerprint(original, task, predicted, correct))):
            return earlier
        if characters is None:
            reading = read(image, task)
            if reading.text != predicted:
                raise InvalidFeedbackError(f"This picture reads as {reading.text!r}, not {predicted!r}: send the text "
                                           "/read gave for it as the predicted text.")
            characters = [{"x": c.model_input, "label": c.label, "confidence": c.confidence, "box": c.box}
                          for c in reading.characters]
        read_feedback, records = make_read_feedback(
            task, predicted, correct, [(c["x"], c["label"], c["confidence"], c["box"]) for c in characters],
            model_version=model_version or get_recognizer(task).record.version, source=source)
        return self.recorder.submit_read(read_feedback, records, original, request_key=request_key)

    def _original(self, image):
        return read_original(image, self.recorder.max_bytes, self.recorder.original_side)

    def answer(self, view, last, store, verb: str, noun: str) -> dict:
        """A page's Yes / Send: `store()` the answer to the `last` one on screen, once; the outputs for `view`
        (its last, status, ask and correction). A problem is said in the status line and the controls stay
        usable (a gr.Error would cover them with Gradio's error overlay)."""
        try:
            if not last:
                raise InvalidFeedbackError(f"{verb} something first, then say whether it was right.")
            if last.get("stored_id"):
                raise InvalidFeedbackError(f"This {noun}'s feedback is already stored (record {last['stored_id']}).")
            stored = store()
        except USER_ERRORS as exc:
            return {view.status: f"**Not stored:** {exc}"}
        return {view.last: {**last, "stored_id": stored.id}, view.status: self.recorder.confirmation(stored),
                view.ask: gr.update(visible=False), view.correction: gr.update(visible=False)}

    @user_errors
    def feedback(self, image, task: str = "digits", predicted: str = "", correct: str = "",
                 request: gr.Request = None) -> str:
        """Say whether a prediction was right, so future models learn from it.

        A retried call stores once: send an `Idempotency-Key` HTTP header (up to 128 letters, digits and
        . _ : -) and a call with the same key answers with the first call's record instead of storing again.
        A key is bound to its request: reused with another image, task or labels it is refused.

        For a line read by /read, send the text it gave as `predicted` and the text the picture says as
        `correct`: when they have as many characters, each character is stored with its box; otherwise the
        correction is kept whole and marked unmatched.

        Args:
            image: the picture that was recognised or read (PNG, JPEG, WebP, BMP or GIF).
            task: "digits", "letters" or "all" (where that model exists).
            predicted: the label the model gave (or the text /read gave).
            correct: the right label (or text); the same as `predicted` when the model was right.
        Returns:
            a confirmation naming the stored record's id.
        """
        key = request.headers.get(IDEMPOTENCY_HEADER) if request is not None and request.headers else None
        if _is_text(predicted) or _is_text(correct):
            stored = self.store_read(image, task, predicted, correct, source="api", request_key=key)
        else:
            stored = self.store(image, task, predicted, correct, source="api", request_key=key)
        return self.recorder.confirmation(stored)


@dataclass
class AnswerControls:
    """"Is this correct?" under an answer: Yes, or No -> the right answer (`right`) and Send; `status` says
    what was stored."""

    ask: gr.Column
    correction: gr.Row
    right: gr.components.Component
    status: gr.Markdown
    yes: gr.Button
    no: gr.Button
    send: gr.Button

    @classmethod
    def build(cls, prefix: str, right) -> "AnswerControls":
        """The controls, hidden until there is an answer; `right()` makes the field the right answer is given in."""
        with gr.Column(visible=False, elem_id=f"{prefix}-feedback") as ask:
            gr.Markdown("**Is this correct?**")
            with gr.Row():
                yes = gr.Button("Yes", elem_id=f"{prefix}-feedback-yes")
                no = gr.Button("No", elem_id=f"{prefix}-feedback-no")
            with gr.Row(visible=False) as correction:
                field = right()
                send = gr.Button("Send", variant="primary", elem_id=f"{prefix}-feedback-send", scale=0, min_width=120)
        status = gr.Markdown(elem_id=f"{prefix}-feedback-status")
        return cls(ask, correction, field, status, yes, no, send)

    def wire(self, last: gr.State, confirm, correct, concurrency_limit: int) -> None:
        """Yes -> `confirm(last)`, No -> the field, Send -> `correct(last, right)`: each answers `last`, the
        status and the controls' visibility. Private listeners: API callers use /feedback."""
        private = dict(api_visibility="private", concurrency_limit=concurrency_limit, concurrency_id="feedback")
        answered = [last, self.status, self.ask, self.correction]
        self.yes.click(confirm, [last], answered, **private)
        self.no.click(lambda: gr.update(visible=True), None, self.correction, api_visibility="private",
                      show_progress="hidden", queue=False)
        self.send.click(correct, [last, self.right], answered, **private)


def _is_text(value) -> bool:
    """More than one character: feedback on a read line, not on one character."""
    return isinstance(value, str) and len(value.strip()) > 1


def feedback_api(desk: FeedbackDesk, concurrency_limit: int) -> None:
    """The public `/feedback` endpoint (image, task, predicted, correct -> confirmation): hidden inputs."""
    with gr.Column(visible=False):
        image = ImageUpload(label="image", type="filepath", sources=["upload"])
        task = gr.Dropdown(list(TASK_LABELS), value="digits", label="task")
        predicted = gr.Textbox(label="predicted")
        correct = gr.Textbox(label="correct")
        confirmation = gr.Textbox(label="confirmation")
        send = gr.Button("Send feedback")
    send.click(desk.feedback, [image, task, predicted, correct], confirmation, api_name="feedback",
               concurrency_limit=concurrency_limit, concurrency_id="feedback")
