"""Handwritten character recognition: the library the app, the API and the training scripts share.

    from handwriting import predict, read
    predict("seven.png", "digits").label   # "7"; .top(3), .confidence, .model_input
    read("2026.png", "digits").text        # "2026": a whole number or word, each character boxed

`predict` takes a Sketchpad value, a file path, bytes, a PIL image or an array; bad input raises
`InvalidImageError` (its message is meant for the user), an unknown task `UnknownTaskError`. A task is a
`Task` from the registry in `handwriting.tasks` (or its name); `load(task)` gives its model.
"""

from handwriting.models import ModelUnavailableError, load
from handwriting.preprocessing import BlankImageError, InvalidImageError, to_model_input
from handwriting.reading import Reading
from handwriting.service import Prediction, predict, predict_many, read
from handwriting.tasks import TASKS, Task, UnknownTaskError, get_task, register

__all__ = [
    "TASKS",
    "BlankImageError",
    "InvalidImageError",
    "ModelUnavailableError",
    "Prediction",
    "Reading",
    "Task",
    "UnknownTaskError",
    "get_task",
    "load",
    "predict",
    "predict_many",
    "read",
    "register",
    "to_model_input",
]
