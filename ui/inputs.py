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
# A pad for words sizes its pen to the writing: a fixed share of the strokes' typical size, so a small
# lowercase e keeps its eye as a large one does (MNIST's strokes are about an eighth of a digit's height).
_PEN_SHARE, _PEN_MIN = 0.12, 5

_CANVAS_TEMPLATE = """
<div class="pad">
  <canvas width="{width}" height="{height}" tabindex="0" aria-label="Drawing pad: draw with the mouse or a finger"></canvas>
  <div class="pad-tools"><button type="button" class="clear" aria-label="Clear canvas" title="Clear">Clear</button></div>
</div>
"""
# Nothing lies on the drawing surface: a stroke may start anywhere on it, the corners included.
_CANVAS_CSS = """
.pad { width: 100%; max-width: MAX_WIDTHpx; margin: 0 auto; }
.pad canvas { display: block; width: 100%; aspect-ratio: WIDTH / HEIGHT; touch-action: none; cursor: crosshair;
  user-select: none; -webkit-user-select: none;
  border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); background: #fff; }
.pad .pad-tools { display: flex; justify-content: flex-end; margin-top: 4px; }
.pad .clear { padding: 2px 12px; border-radius: var(--radius-md); border: 1px solid var(--border-color-primary);
  background: var(--background-fill-primary); cursor: pointer; }
"""
# Each finished stroke becomes the value (a PNG data URL of the whole white-and-black canvas), which fires
# the component's change event once: one request per stroke carries the drawing, and nothing is uploaded
# when nothing is drawn. Clear (the button, or the server setting the value to "") empties the canvas;
# there is no tool to pick or lose. A stroke ends when the pen lifts anywhere, or when the pad leaves the
# screen under it (a round's end): the page never selects text while the pen is down.
_CANVAS_JS = """
const canvas = element.querySelector('canvas');
const ctx = canvas.getContext('2d');
const FIXED = PEN_FIXED, SHARE = PEN_SHARE, MIN = PEN_MIN, MAX = PEN_MAX;
const START = FIXED ? MAX : Math.round(SHARE * canvas.height / 2);  // a line's characters: half its height
let strokes = [], stroke = null, width = START, penDown = false;
const blank = () => { ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height); };
const paint = (points) => {
  Object.assign(ctx, { lineWidth: width, lineCap: 'round', lineJoin: 'round', strokeStyle: '#000' });
  ctx.beginPath(); ctx.moveTo(points[0][0], points[0][1]); ctx.lineTo(points[0][0] + 0.01, points[0][1]);
  for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
};
const reset = () => { blank(); strokes = []; width = START; };
reset();
// the pen for the writing so far: a share of the median stroke's size (its box's longer side)
const settle = () => {
  if (FIXED) return;
  const sizes = strokes.map((s) => {
    const xs = s.map((p) => p[0]), ys = s.map((p) => p[1]);
    return Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  }).sort((a, b) => a - b);
  const next = Math.round(Math.min(MAX, Math.max(MIN, SHARE * sizes[Math.floor(sizes.length / 2)])));
  if (next === width) return;
  width = next; blank(); strokes.forEach(paint);
};
const at = (e) => {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
};
const end = () => {
  if (!stroke) return;
  strokes.push(stroke); stroke = null;
  settle();
  element.dataset.strokeEndedAt = String(performance.now());
  props.value = canvas.toDataURL('image/png');
};
canvas.addEventListener('pointerdown', (e) => {
  stroke = [at(e)]; penDown = true;
  canvas.focus({ preventScroll: true });  // Enter now submits the drawing, not the button clicked before
  canvas.setPointerCapture(e.pointerId);
  paint(stroke);
  e.preventDefault();
});
canvas.addEventListener('pointermove', (e) => {
  if (!stroke) return;
  if (!canvas.isConnected || canvas.offsetParent === null) return end();  // the pad left the screen
  const last = stroke[stroke.length - 1];
  stroke.push(at(e));
  Object.assign(ctx, { lineWidth: width, lineCap: 'round', lineJoin: 'round', strokeStyle: '#000' });
  ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(...stroke[stroke.length - 1]); ctx.stroke();
});
const lift = () => { penDown = false; end(); };
for (const type of ['pointerup', 'pointercancel']) window.addEventListener(type, lift, true);
canvas.addEventListener('lostpointercapture', end);
// until the pen lifts, even once the pad has gone, a drag selects nothing
document.addEventListener('selectstart', (e) => { if (penDown) e.preventDefault(); });
element.querySelector('.clear').addEventListener('click', () => { reset(); props.value = ''; });
watch('value', () => { if (!props.value) reset(); });
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

    def __init__(self, elem_id: str, width: int = _CANVAS_SIDE, height: int = _CANVAS_SIDE, *,
                 max_height: int = 420, pen_fits_writing: bool = False, **kwargs):
        """`width` x `height` drawing pixels (a character pad is 280 square, a line to read wider), shown at
        most `max_height` CSS pixels tall. A character pad's pen is the one the models were tuned on; with
        `pen_fits_writing` (a line of small characters) it follows the size of what is written."""
        css = (_CANVAS_CSS.replace("MAX_WIDTH", str(max_height * width // height))
               .replace("WIDTH", str(width)).replace("HEIGHT", str(height)))
        js = (_CANVAS_JS.replace("PEN_FIXED", "false" if pen_fits_writing else "true")
              .replace("PEN_SHARE", str(_PEN_SHARE)).replace("PEN_MIN", str(_PEN_MIN)).replace("PEN_MAX", str(_PEN_WIDTH)))
        super().__init__(value="", html_template=_CANVAS_TEMPLATE.format(width=width, height=height), css_template=css,
                         js_on_load=js, elem_id=elem_id, **kwargs)

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
