"""Handwritten character recognition: the library the app, the API and the training scripts share.

    from handwriting import predict, read
    predict("seven.png", task="digits")   # {"7": 0.998, "1": 0.001, ...}
    read("2026.png", task="digits").text  # "2026": a whole number or word, each character boxed

`predict` takes a Sketchpad value, a file path, bytes, a PIL image or an array; bad input raises
`InvalidImageError` (its message is meant for the user), an unknown task `UnknownTaskError`.
Serving never imports TensorFlow: models run in the LiteRT interpreter (`handwriting.runtime`).
"""

from handwriting.labels import TASK_LABELS, UnknownTaskError, labels_for
from handwriting.preprocessing import BlankImageError, InvalidImageError, to_model_input
from handwriting.reading import Reading, read
from handwriting.recognizer import get_recognizer, predict, top_k
from handwriting.store import ModelUnavailableError

__all__ = [
    "TASK_LABELS",
    "BlankImageError",
    "InvalidImageError",
    "ModelUnavailableError",
    "UnknownTaskError",
    "get_recognizer",
    "labels_for",
    "predict",
    "read",
    "Reading",
    "to_model_input",
    "top_k",
]
