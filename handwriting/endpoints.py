"""The functions behind the app's events and API endpoints.

Each one calls the shared library and turns its errors into `gr.Error`, which Gradio shows in the page
and sends to API clients as a readable error; anything else would reach people as a bare "Error".
Their docstrings are what `Client.view_api()` and the page's API docs show.
"""

from __future__ import annotations

import functools
import logging

import gradio as gr

from handwriting.labels import TASK_LABELS, UnknownTaskError
from handwriting.preprocessing import InvalidImageError
from handwriting.recognizer import predict
from handwriting.store import ModelUnavailableError, resolve_model

log = logging.getLogger("handwriting")

USER_ERRORS = (InvalidImageError, UnknownTaskError, ModelUnavailableError)


def user_errors(fn):
    """Turn the library's user-facing errors into `gr.Error`, with their message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as exc:
            raise gr.Error(str(exc)) from None

    return wrapper


@user_errors
def predict_image(image, task: str = "digits") -> dict[str, float]:
    """Recognise the character in an image file (photo, scan, screenshot or drawing).

    Args:
        image: the picture: PNG, JPEG, WebP, BMP or GIF; dark ink on light paper or light on dark.
        task: "digits" (0-9).
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
        task: "digits" (0-9).
    Returns:
        the three most likely characters with their confidences.
    """
    return predict(sketch, task)


def model_info_markdown(tasks=tuple(TASK_LABELS)) -> str:
    """One line per task saying which model version serves it and where it came from."""
    lines = []
    for task in tasks:
        try:
            record = resolve_model(task)
        except ModelUnavailableError:
            continue
        figures = record.metrics.get("headline", "")
        lines.append(f"- **{task}**: model `{record.version}` from {record.source}" + (f" · {figures}" if figures else ""))
    return "\n".join(lines) or "No model is available."
