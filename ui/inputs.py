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


def within_upload_limit(size: int, detail: str = "") -> None:
    """Refuse `size` bytes beyond the upload limit (HANDWRITING_MAX_UPLOAD), as Gradio's upload route does."""
    limit = settings().max_file_bytes
    if size > limit:
        raise refuse(f"The image is too large: at most {limit / 2**20:.0f} MB are accepted.", detail)


def inline_bytes(url: str) -> bytes:
    """The bytes of a `data:` URL, refused unread when they would exceed the upload limit."""
    encoded = url.split(",", 1)[-1]
    within_upload_limit(len(encoded) * 3 // 4, f"data: URL of {len(encoded):,} characters")
    try:
        return base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        raise refuse("The image's data: URL is not valid base64.") from None


def _raw(file) -> str | bytes | None:
    if file is None:
        return None
    if isinstance(file, (bytes, bytearray, memoryview)):  # the editor's in-memory blobs
        within_upload_limit(len(file))
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


# ---------------------------------------------------------------------------------------------------
# The page's drawing pad

_CANVAS_SIDE = 280  # the drawing's pixels (a character pad is square); shown as wide as the column allows
_PEN_WIDTH = 24  # pixels of the 280 (Gradio's Sketchpad brush of size 12, which the models were tuned on)

_CANVAS_TEMPLATE = """
<div class="pad">
  <canvas width="{width}" height="{height}" tabindex="0" aria-label="Drawing pad: draw with the mouse or a finger"></canvas>
  <button type="button" class="clear" aria-label="Clear canvas" title="Clear">Clear</button>
</div>
"""
_CANVAS_CSS = """
.pad { position: relative; width: 100%; max-width: MAX_WIDTHpx; margin: 0 auto; }
.pad canvas { display: block; width: 100%; aspect-ratio: WIDTH / HEIGHT; touch-action: none; cursor: crosshair;
  border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); background: #fff; }
.pad .clear { position: absolute; top: 6px; right: 6px; padding: 2px 10px; border-radius: var(--radius-md);
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary); cursor: pointer; }
"""
# Each finished stroke becomes the value (a PNG data URL of the whole white-and-black canvas), which fires
# the component's change event once: one request per stroke carries the drawing, and nothing is uploaded
# when nothing is drawn. Clear (the button, or the server setting the value to "") empties the canvas;
# there is no tool to pick or lose.
_CANVAS_JS = f"""
const canvas = element.querySelector('canvas');
const ctx = canvas.getContext('2d');
const blank = () => {{ ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height); }};
blank();
let drawing = false;
const at = (e) => {{
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
}};
canvas.addEventListener('pointerdown', (e) => {{
  drawing = true;
  canvas.focus({{ preventScroll: true }});  // Enter now submits the drawing, not the button clicked before
  canvas.setPointerCapture(e.pointerId);
  const [x, y] = at(e);
  Object.assign(ctx, {{ lineWidth: {_PEN_WIDTH}, lineCap: 'round', lineJoin: 'round', strokeStyle: '#000' }});
  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 0.01, y); ctx.stroke();
  e.preventDefault();
}});
canvas.addEventListener('pointermove', (e) => {{
  if (!drawing) return;
  const [x, y] = at(e);
  ctx.lineTo(x, y); ctx.stroke();
}});
const end = () => {{
  if (!drawing) return;
  drawing = false;
  element.dataset.strokeEndedAt = String(performance.now());
  props.value = canvas.toDataURL('image/png');
}};
canvas.addEventListener('pointerup', end);
canvas.addEventListener('pointercancel', end);
element.querySelector('.clear').addEventListener('click', () => {{ blank(); props.value = ''; }});
watch('value', () => {{ if (!props.value) blank(); }});
"""


EMPTY_DRAWING = {"background": None, "layers": [], "composite": None}  # an empty pad, as Gradio's Sketchpad says it


def is_empty(drawing) -> bool:
    return drawing is None or drawing == EMPTY_DRAWING


class DrawingCanvas(gr.HTML):
    """The page's drawing pad: a plain canvas (black pen on white, no tools) whose value is the drawing.

    Gradio's Sketchpad uploads its background, layer and composite three times for every event that
    reads it (9 uploads a prediction, and again with every game tick), and drops its brush after a clear.
    This pad sends only the composite, inline in the one request of each stroke; `preprocess` hands its
    bytes (within the upload size limit) to the preprocessing, EMPTY_DRAWING for an empty pad."""

    def __init__(self, elem_id: str, width: int = _CANVAS_SIDE, height: int = _CANVAS_SIDE, **kwargs):
        """`width` x `height` drawing pixels: a character pad is 280 square, a line to read wider; the pen is
        the same at any size, so characters come out as a character pad draws them."""
        css = (_CANVAS_CSS.replace("MAX_WIDTH", str(420 * width // height))
               .replace("WIDTH", str(width)).replace("HEIGHT", str(height)))
        super().__init__(value="", html_template=_CANVAS_TEMPLATE.format(width=width, height=height), css_template=css,
                         js_on_load=_CANVAS_JS, elem_id=elem_id, **kwargs)

    def preprocess(self, payload) -> bytes | dict:
        if not payload:
            return dict(EMPTY_DRAWING)  # the shared preprocessing says "The canvas is empty"
        if not isinstance(payload, str) or not payload.startswith("data:image/png;base64,"):
            raise refuse("The drawing must be a PNG data URL.", repr(payload))
        return inline_bytes(payload)


MAX_BATCH_IMAGES = 1000  # images in one /predict_batch call
MAX_BATCH_BYTES = 100 * 2**20  # their files' total size


class ImageUploads(gr.File):
    """`gr.File` (many files) whose value reaches the function as the uploaded files' paths, checked like
    ImageUpload's, and refused whole, before anything is read, beyond MAX_BATCH_IMAGES or MAX_BATCH_BYTES."""

    def __init__(self, **kwargs):
        super().__init__(file_count="multiple", **kwargs)

    def get_block_name(self) -> str:
        return "file"

    def get_block_class(self) -> str:
        return "file"

    def preprocess(self, payload) -> list[str]:
        files = [] if payload is None else list(getattr(payload, "root", payload))
        if not files:
            raise refuse("No images were given: send one or more image files.")
        if len(files) > MAX_BATCH_IMAGES:
            raise refuse(f"Too many images ({len(files):,}): at most {MAX_BATCH_IMAGES:,} are read in one call.")
        paths = [uploaded_path(getattr(f, "path", None)) for f in files]
        total = sum(Path(p).stat().st_size for p in paths)
        if total > MAX_BATCH_BYTES:
            raise refuse(f"The images add up to {total / 2**20:.0f} MB: at most {MAX_BATCH_BYTES // 2**20} MB are "
                         "read in one call.")
        return paths
