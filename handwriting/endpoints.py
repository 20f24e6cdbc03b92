"""The functions behind the app's events and API endpoints.

Each one calls the shared library and turns its errors into `gr.Error`, which Gradio shows in the page
and sends to API clients as a readable error; anything else would reach people as a bare "Error".
Their docstrings are what `Client.view_api()` and the page's API docs show.
"""

from __future__ import annotations

import functools
import html
import logging

import gradio as gr
import numpy as np

from handwriting import store
from handwriting.feedback import FeedbackStorageError, InvalidFeedbackError, encode_png
from handwriting.gradio_inputs import is_empty
from handwriting.labels import UnknownTaskError, labels_for, lookalikes_of, unambiguous_name
from handwriting.preprocessing import InvalidImageError
from handwriting.recognizer import get_recognizer, predict, predict_each, predict_with_input, top_k
from handwriting.store import ModelUnavailableError

log = logging.getLogger("handwriting")

IDEMPOTENCY_HEADER = "idempotency-key"  # on /feedback: a retried call with the same key stores once
USER_ERRORS = (InvalidImageError, UnknownTaskError, ModelUnavailableError, InvalidFeedbackError, FeedbackStorageError)


def errors_as_gr_error(errors: tuple[type[Exception], ...]):
    """A decorator turning `errors` into `gr.Error` with their message (no traceback in the log:
    they are the user's, not the server's)."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except errors as exc:
                raise gr.Error(str(exc), print_exception=False) from None

        return wrapper

    return decorate


user_errors = errors_as_gr_error(USER_ERRORS)  # the library's user-facing errors


@user_errors
def predict_image(image, task: str = "digits") -> dict[str, float]:
    """Recognise the character in an image file (photo, scan, screenshot or drawing).

    Args:
        image: the picture: PNG, JPEG, WebP, BMP or GIF; dark ink on light paper or light on dark.
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
    Returns:
        the three most likely characters with their confidences.
    """
    return predict(image, task)


@user_errors
def predict_sketch(sketch, task: str = "digits") -> dict[str, float]:
    """Recognise a character drawn on the sketchpad.

    Args:
        sketch: an image-editor value {"background", "layers", "composite"}; the composite is used
            (send the drawing there), else the background with its layers on top.
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
    Returns:
        the three most likely characters with their confidences.
    """
    return predict(sketch, task)


@user_errors
def predict_batch(images: list[str], task: str = "digits") -> list[dict]:
    """Recognise many character images in one call: up to 1,000 files, 100 MB in all.

    Args:
        images: the pictures (PNG, JPEG, WebP, BMP or GIF), one character each.
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
    Returns:
        one entry per image, in order: {"label", "confidences"} (the three most likely characters, as
        /predict gives them), or {"error": why} for an image that cannot be read; the others are unaffected.
    """
    return [label_value(answer) if isinstance(answer, dict) else {"error": str(answer)}
            for answer in predict_each(images, task)]


def label_value(probabilities: dict[str, float], k: int = 3) -> dict:
    """{label: probability} as a gr.Label(num_top_classes=k) sends it: the top label and the top k."""
    best = top_k(probabilities, k)
    return {"label": best[0][0], "confidences": [{"label": label, "confidence": p} for label, p in best]}


class FeedbackEndpoints:
    """The functions behind each tab's Predict and "Is this correct?", and the public `/feedback` endpoint.

    The page's prediction is made and kept on the server (the session's `gr.State`: task, label,
    confidence, model version and the input itself); Yes and Send only say which label is right, so no
    request can make the store keep a prediction the model did not make. Any error or new input clears
    it: feedback is only ever stored for the drawing whose prediction is on screen. Storing is local and
    quick; copying to the Google Sheet happens in the background.
    """

    def __init__(self, recorder):
        self.recorder = recorder

    @user_errors
    def feedback(self, image, task: str = "digits", predicted: str = "", correct: str = "",
                 request: gr.Request = None) -> str:
        """Say whether a prediction was right, so future models learn from it.

        A retried call stores once: send an `Idempotency-Key` HTTP header (up to 128 letters, digits and
        . _ : -) and a call with the same key answers with the first call's record instead of storing again.

        Args:
            image: the picture that was recognised (PNG, JPEG, WebP, BMP or GIF).
            task: "digits", "letters" or "all" (where that model exists).
            predicted: the label the model gave.
            correct: the right label; the same as `predicted` when the model was right.
        Returns:
            a confirmation naming the stored record's id.
        """
        key = request.headers.get(IDEMPOTENCY_HEADER) if request is not None and request.headers else None
        record = self.recorder.submit(image, task, predicted, correct, source="api", request_key=key)
        return self.recorder.confirmation(record)

    def page_predict(self, image, task):
        """The page's Predict (and upload): the top-3, what the model saw, the look-alike note, and "Is this
        correct?" for it. Outputs: label, last, ask, correction, right, status, hint, seen. A problem with
        the input is said in the status line under the answer (a toast would cover the page's top on a
        phone) and clears the previous prediction and its buttons."""
        try:
            probabilities, x = predict_with_input(image, task)
            version = get_recognizer(task).record.version
        except USER_ERRORS as exc:
            return (*self.forget()[:5], f"**Not recognised:** {exc}", "", "")
        predicted, confidence = max(probabilities.items(), key=lambda kv: kv[1])
        last = {"task": task, "predicted": predicted, "confidence": float(confidence), "model_version": version,
                "image": image, "stored_id": None}
        return (probabilities, last, gr.update(visible=True), gr.update(visible=False),
                gr.update(choices=list(labels_for(task)), value=None), "", lookalike_hint(probabilities, task),
                model_input_html(x))

    def page_live(self, drawing, task):
        """After each stroke on the pad (and when it is cleared): the same as Predict; an empty pad just
        clears the prediction."""
        if is_empty(drawing):
            return self.forget()
        return self.page_predict(drawing, task)

    @staticmethod
    def forget():
        """A new or cleared input: the prediction on screen no longer describes it (outputs as page_predict)."""
        return None, None, gr.update(visible=False), gr.update(visible=False), gr.update(value=None), "", "", ""

    @staticmethod
    def ask_for_label():
        """No: show the list of the task's labels and the Send button."""
        return gr.update(visible=True)

    def confirm(self, last):
        """Yes: store the prediction as confirmed."""
        return self._answer(last, last["predicted"] if last else None)

    def correct(self, last, right):
        """Send: store the correction chosen from the task's labels."""
        if last and not right:
            return self._not_stored("Choose the right answer from the list first.")
        return self._answer(last, right)

    def _answer(self, last, correct):
        """Store the answer; a problem is said in the status line, the controls stay usable.

        (A gr.Error would cover the buttons and the list with Gradio's error overlay.)"""
        try:
            if not last:
                raise InvalidFeedbackError("Predict something first, then say whether it was right.")
            if last.get("stored_id"):
                raise InvalidFeedbackError(f"This prediction's feedback is already stored (record {last['stored_id']}).")
            record = self.recorder.submit(last["image"], last["task"], last["predicted"], correct,
                                          confidence=last["confidence"], model_version=last["model_version"],
                                          source="app")
        except USER_ERRORS as exc:
            return self._not_stored(str(exc))
        last = {**last, "stored_id": record.id}
        return last, self.recorder.confirmation(record), gr.update(visible=False), gr.update(visible=False)

    @staticmethod
    def _not_stored(message: str):
        return gr.update(), f"**Not stored:** {message}", gr.update(), gr.update()


def model_available(task: str) -> bool:
    """Whether a model serves `task` (bundled or from the hub)."""
    return store.model_info([task])[task].get("available", True)


def lookalike_hint(label, task: str) -> str:
    """A plain note when the top answer has look-alikes in this task (o/O/0, l/I/1, s/S, ...).

    `label` is the Label's value as an input: {character: confidence}."""
    if not isinstance(label, dict) or not label:
        return ""
    top = str(max(label.items(), key=lambda kv: kv[1])[0])
    others = [c for c in lookalikes_of(top) if c in labels_for(task)]
    if not others:
        return ""
    names = " or ".join(f"**{unambiguous_name(c)}**" for c in others)  # the page's font draws I and l alike
    return (f"**{unambiguous_name(top)}** looks just like {names} once the size is evened out: the model sees "
            f"the shape, not how big it was drawn, so it cannot always tell them apart. If you meant {names}, "
            "say so below: corrections like that teach it.")


def model_input_html(x, caption: str = "What the model saw") -> str:
    """The 28x28 model input (white ink on black, as the model was trained; floats in [0, 1] or uint8
    pixels), enlarged with crisp pixels."""
    x = np.asarray(x).reshape(28, 28)
    pixels = x if x.dtype == np.uint8 else np.round(x * 255).astype(np.uint8)
    return (f"<figure class='model-input'><img src='data:image/png;base64,{encode_png(pixels)}' width='112' "
            f"height='112' alt='{html.escape(caption)}: the 28x28 picture the model was given'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def model_info() -> dict:
    """Which model serves each task: its version, where it came from (the bundled folder, or the hub
    repo, revision and commit) and its measured accuracy.

    Returns:
        {task: {"version", "source", "repo", "revision", "commit", "headline", ...}}; a task with no
        model has {"available": false, "error": ...}.
    """
    return store.model_info()


def model_info_markdown() -> str:
    """One line per task saying which model version serves it and where it came from."""
    lines = []
    for task, info in store.model_info().items():
        if info.get("available", True):
            figures = info.get("headline") or ""
            lines.append(f"- **{task}**: model `{info['version']}` from {info['source']}" + (f" · {figures}" if figures else ""))
    return "\n".join(lines) or "No model is available."