"""Gradio input components that hand the raw upload to `handwriting.preprocessing`, and only an upload.

Stock `gr.Image` and `gr.Sketchpad` decode uploads with PIL before our code runs: a text file renamed
.png or a 20000x20000 bomb then fails inside Gradio with a bare "Error" and no explanation. These
subclasses pass the uploaded file's path to the one preprocessing path, which refuses bad files with
messages meant for people.

Gradio checks that a file lies in its upload cache only when the request marks it as a file
(`meta._type`); a bare `{"path": "/etc/..."}` would reach us unchecked. So every path is checked here
(resolved, symlinks followed) against the upload cache, and anything else gets one message whatever
the path, so the answer never tells whether a file exists. Inline `data:` URLs obey the same size limit
as uploads.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from handwriting.config import settings
from handwriting.text import shorten

log = logging.getLogger("handwriting")

NOT_AN_UPLOAD = ("The image must be uploaded through the app first (the page does this; API callers use "
                 "gradio_client's handle_file or POST /gradio_api/upload): this one is not an upload.")


def refuse(message: str, detail: str = "") -> gr.Error:
    """A refusal: one log line (never a traceback), and the error the caller sees."""
    log.info("refused a request: %s%s", message, f" ({shorten(detail, 120)})" if detail else "")
    return gr.Error(message, print_exception=False)


def uploaded_path(path) -> str:
    """`path` if it names a file in Gradio's upload cache (symlinks followed), else a refusal."""
    if not isinstance(path, str) or not path:
        raise refuse(NOT_AN_UPLOAD, repr(path))
    try:
        resolved = Path(path).resolve()
        inside = resolved.is_relative_to(Path(get_upload_folder()).resolve()) and resolved.is_file()
    except (OSError, ValueError, RuntimeError):  # a path too long, a NUL byte, a symlink loop
        inside = False
    if not inside:
        raise refuse(NOT_AN_UPLOAD, path)
    return str(resolved)


def inline_bytes(url: str) -> bytes:
    """The bytes of a `data:` URL, refused unread when they would exceed the upload limit."""
    limit = settings().max_file_bytes
    encoded = url.split(",", 1)[-1]
    if len(encoded) * 3 // 4 > limit:
        raise refuse(f"The image is too large: at most {limit / 2**20:.0f} MB are accepted.",
                     f"data: URL of {len(encoded):,} characters")
    try:
        return base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        raise refuse("The image's data: URL is not valid base64.") from None


def _raw(file) -> str | bytes | None:
    if file is None:
        return None
    if isinstance(file, (bytes, bytearray, memoryview)):  # the editor's in-memory blobs
        if len(file) > settings().max_file_bytes:
            raise refuse(f"The image is too large: at most {settings().max_file_bytes / 2**20:.0f} MB are accepted.")
        return bytes(file)
    url = getattr(file, "url", None)  # FileData or ImageData
    if isinstance(url, str) and url.startswith("data:"):
        return inline_bytes(url)
    return uploaded_path(getattr(file, "path", None))


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
