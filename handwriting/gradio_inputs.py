"""Gradio input components that hand the raw upload to `handwriting.preprocessing`.

Stock `gr.Image` and `gr.Sketchpad` decode uploads with PIL before our code runs: a text file renamed
.png or a 20000x20000 bomb then fails inside Gradio with a bare "Error" and no explanation. These
subclasses pass the uploaded file's path (already checked by Gradio to lie in its upload cache) to
the one preprocessing path, which refuses bad files with messages meant for people.
"""

from __future__ import annotations

import base64

import gradio as gr


def _raw(file) -> str | bytes | None:
    if file is None:
        return None
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file)
    url = getattr(file, "url", None)  # FileData or ImageData
    if url and url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[-1])
    return file.path


class ImageUpload(gr.Image):
    """`gr.Image` whose value reaches the function as the uploaded file's path (or bytes)."""

    def get_block_name(self) -> str:
        return "image"

    def get_block_class(self) -> str:
        return "image"

    def preprocess(self, payload):
        return _raw(payload)


class DrawingPad(gr.Sketchpad):
    """`gr.Sketchpad` whose background, layers and composite reach the function as file paths."""

    def get_block_name(self) -> str:
        return "imageeditor"

    def get_block_class(self) -> str:
        return "imageeditor"

    def convert_and_format_image(self, file, flatten_on_white: bool = False):
        return _raw(file)
