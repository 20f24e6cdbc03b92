"""Gradio's flagging hook over the feedback sinks: a `gr.Interface`'s flag button stores and queues a record.

`FeedbackFlagger` is a thin `gr.FlaggingCallback`: it turns an Interface's flagged values (an image input,
a Label output and, as the flag option, the right label) into a record and hands it to a
`FeedbackRecorder` over the same sinks as the app's (the local store, and the Google Sheet when one is
configured), so a corrected label flagged there reaches the sheet too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import gradio as gr
from gradio.utils import get_upload_folder, is_in_or_equal

from handwriting.config import settings
from handwriting.feedback import FeedbackRecord, FeedbackRecorder, InvalidFeedbackError, Sink, make_record
from handwriting.preprocessing import to_model_input
from handwriting.tasks import Task, get_task

IMAGE_INPUTS = ("Image", "ImageEditor", "Sketchpad", "ImageUpload")


class FeedbackFlagger(gr.FlaggingCallback):
    """`flagging_callback=FeedbackFlagger(...)`: flags become feedback records through `sinks` (None: the
    app's, from the environment). `task` and `model_version` describe the Interface's predictions; a
    "task" input, if the Interface has one, names the task of each flag instead."""

    def __init__(self, sinks: Sequence[Sink] | None = None, task: Task | str = "digits",
                 model_version: str = "unknown"):
        self.sinks = sinks
        self.task = get_task(task)
        self.model_version = model_version
        self.components: list = []
        self.recorder: FeedbackRecorder | None = None
        self.flagged = 0

    def setup(self, components: Sequence[Any], flagging_dir: str) -> None:
        self.components = list(components)
        if self.sinks is None:
            self.recorder = FeedbackRecorder.from_settings(replace(settings(), data_dir=Path(flagging_dir)))
        else:
            self.recorder = FeedbackRecorder(flagging_dir, self.sinks)
        self.recorder.start()

    def flag(self, flag_data: list[Any], flag_option: str | None = None, username: str | None = None) -> int:
        self.recorder.submit(record_from_interface(flag_data, self.components, flag_option, self.task,
                                                   self.model_version))
        self.flagged += 1
        return self.flagged


def _uploaded(path) -> str:
    """A flagged file's path, only if it lies in Gradio's upload cache (a request names the path)."""
    if not isinstance(path, str) or not path or not is_in_or_equal(path, get_upload_folder()):
        raise InvalidFeedbackError("The flagged image is not an upload of this app.")
    return path


def record_from_interface(values: Sequence, components: Sequence, flag_option, task: Task,
                          model_version: str) -> FeedbackRecord:
    """A record from a `gr.Interface`'s flagged values: the image input's value, the Label output's value
    ({"label", "confidences"}), a "task" input if there is one, and the right label as the flag option
    (`flagging_options=[("It was 7", "7"), ...]`)."""
    by_kind = {}
    for component, value in zip(components, values):
        kind = "task" if getattr(component, "label", None) == "task" else type(component).__name__
        by_kind.setdefault(kind, value)
    image = next((by_kind[k] for k in IMAGE_INPUTS if k in by_kind), None)
    if isinstance(image, dict) and "path" in image:  # a file as the Interface sends it (not preprocessed)
        image = _uploaded(image["path"])
    label = by_kind.get("Label")
    if image is None or not isinstance(label, dict) or "label" not in label:
        raise InvalidFeedbackError("Flagging needs an image input and a Label output.")
    task = get_task(by_kind["task"]) if by_kind.get("task") else task
    if not task.has(flag_option):
        raise InvalidFeedbackError("Say which label is right: flagging_options must name the task's labels.")
    confidences = {c.get("label"): c.get("confidence") for c in label.get("confidences") or []}
    confidences.setdefault(label["label"], 0.0)
    return make_record(to_model_input(image), task, label["label"], flag_option, source="app",
                       confidence=confidences, model_version=model_version)
