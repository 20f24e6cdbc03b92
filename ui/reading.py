"""Reading at the edge: the public `/read` and `/read_sketch`, and the Read tab (a wide pad or an upload ->
the text, each character boxed on the picture with its top 3, and "Is this correct?")."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from handwriting import service
from handwriting.decoding import image_size, oriented_size, to_grey
from handwriting.reading import Reading
from handwriting.tasks import Task
from ui.errors import user_errors
from ui.inputs import DrawingCanvas, DrawingPad, ImageUpload
from ui.live import AnswerControls, LivePage, LiveView, Pending
from ui.recognition import task_names

PAD_WIDTH, PAD_HEIGHT = 560, 280  # the Read tab's pad: two character pads side by side, tall enough for a finger on a phone
SURE, UNSURE = "#16a34a", "#d97706"  # box colours
DISPLAY_SIDE = 840  # longest side of the picture shown with the boxes (wider than the pad)

# ---------------------------------------------------------------------------------------------------
# The public API


@user_errors
def read_image(image, task: str = "digits") -> dict:
    """Read a whole number or word in an image file (a photo, a scan, a drawing): up to 32 characters on one line.

    Args:
        image: the picture: PNG, JPEG, WebP, BMP or GIF, at most 12,000 pixels wide.
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
    Returns:
        {"text", "characters": [{"box": [x0, y0, x1, y1] in the image's pixels, "label", "confidence",
        "top3": [{"label", "confidence"}, ...], "unsure"}, ...]}, left to right.
    """
    return service.read(image, task).as_json()


@user_errors
def read_sketch(sketch, task: str = "digits") -> dict:
    """Read a whole number or word drawn on a sketchpad (e.g. 840x280 pixels).

    Args:
        sketch: an image-editor value {"background", "layers", "composite"}; the composite is used.
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
    Returns:
        the same as /read, boxes in the sketch's pixels.
    """
    return service.read(sketch, task).as_json()


def reading_api(concurrency_limit: int) -> None:
    """The public `/read` (image file, task) and `/read_sketch` (image-editor value, task): hidden inputs."""
    with gr.Column(visible=False):
        image = ImageUpload(label="image", type="filepath", sources=["upload"])
        sketch = DrawingPad(label="sketch", type="numpy", image_mode="RGBA", layers=False, transforms=())
        task = gr.Dropdown(task_names(), value="digits", label="task")
        reading = gr.JSON(label="reading")
        from_image, from_sketch = gr.Button("Read image"), gr.Button("Read sketch")
    shared = dict(concurrency_limit=concurrency_limit, concurrency_id="recognise")
    from_image.click(read_image, [image, task], reading, api_name="read", **shared)
    from_sketch.click(read_sketch, [sketch, task], reading, api_name="read_sketch", **shared)


# ---------------------------------------------------------------------------------------------------
# What the page shows


def text_html(reading: Reading) -> str:
    """The text read, large; a character the reader is unsure of is marked (and says why on hover)."""
    spans = []
    for c in reading.characters:
        glyph = html.escape(c.label)
        if c.unsure:
            others = ", ".join(f"{html.escape(k)} {p:.0%}" for k, p in c.top3[1:])
            spans.append(f"<span class='unsure' title='not sure: {c.confidence:.0%}; also {others}'>{glyph}</span>")
        else:
            spans.append(f"<span>{glyph}</span>")
    note = (" <span class='read-note'>(marked: not sure; click a character in the picture for its "
            "alternatives)</span>" if any(c.unsure for c in reading.characters) else "")
    return f"<div class='read-text glyph'>{''.join(spans)}</div>{note}"


def boxed_picture(image, reading: Reading) -> tuple[Image.Image, list[list[int]]]:
    """The picture as it was split: reduced by the shared decoding to at most DISPLAY_SIDE, each character's
    box drawn on it and numbered (green, amber when unsure); and the boxes in the shown picture's pixels.

    Drawn here, not by gr.AnnotatedImage: that builds a full-size float mask and a PNG per box, a tenth of a
    second for a word on the pad after every stroke and seconds (and hundreds of MB) for a large photo."""
    grey = to_grey(image, DISPLAY_SIDE)
    width, height = oriented_size(image_size(image), grey)
    sx, sy = grey.shape[1] / width, grey.shape[0] / height
    picture = Image.fromarray(np.round(grey * 255).astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(picture)
    shown = []
    for i, c in enumerate(reading.characters, 1):
        x0, y0, x1, y1 = c.box
        box = [int(x0 * sx), int(y0 * sy), max(int(x0 * sx) + 1, math.ceil(x1 * sx)), max(int(y0 * sy) + 1, math.ceil(y1 * sy))]
        colour = UNSURE if c.unsure else SURE
        draw.rectangle(box, outline=colour, width=3)
        draw.text((box[0] + 4, box[1] + 2), str(i), fill=colour)
        shown.append(box)
    return picture, shown


def clicked(shown_boxes: list[list[int]], x: float, y: float) -> int | None:
    """The character whose box holds the point (the nearest box's along the line when none does)."""
    if not shown_boxes:
        return None
    inside = [i for i, (x0, y0, x1, y1) in enumerate(shown_boxes) if x0 <= x < x1 and y0 <= y < y1]
    if inside:
        return inside[0]
    return min(range(len(shown_boxes)), key=lambda i: abs((shown_boxes[i][0] + shown_boxes[i][2]) / 2 - x))


def details_html(reading: Reading) -> str:
    """Each character with its top 3 and confidences."""
    rows = "".join(
        f"<tr class='{'unsure' if c.unsure else ''}'><td>{i}</td><td class='glyph'>{html.escape(c.label)}</td>"
        f"<td>{c.confidence:.0%}{' (not sure)' if c.unsure else ''}</td><td class='glyph'>"
        + ", ".join(f"{html.escape(k)} {p:.0%}" for k, p in c.top3) + "</td></tr>"
        for i, c in enumerate(reading.characters, 1))
    return ("<table class='read-characters'><thead><tr><th>#</th><th>Read</th><th>Confidence</th><th>Top 3</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>")


def alternatives_markdown(character, index: int) -> str:
    """One character's alternatives, as shown when its box is clicked."""
    top = ", ".join(f"**{label}** {p:.0%}" for label, p in character.top3)
    unsure = " The reader is not sure of it." if character.unsure else ""
    return f"Character {index + 1}: read as **{character.label}**.{unsure} Its top 3: {top}."


# ---------------------------------------------------------------------------------------------------
# The tab


@dataclass
class ReadingView(LiveView):
    """What the Read tab's handlers update."""

    text: gr.HTML = None
    boxes: gr.Image = None  # the picture, each character boxed; a click on one shows its alternatives
    details: gr.HTML = None
    alternatives: gr.Markdown = None


@dataclass
class ReadPending(Pending):
    """A reading on screen, with where each character's box is drawn on the picture shown."""

    shown_boxes: list = None


class ReadingPage(LivePage):
    """The Read tab's handlers: Read (and live after each stroke), a box's alternatives, and feedback."""

    verb, noun, failed = "Read", "reading", "Not read"
    give = "Write what it says first."
    pending_type = ReadPending

    def answer(self, image, task: Task) -> Reading:
        return service.read(image, task)

    def shown(self, pending: ReadPending) -> dict:
        v, reading = self.view, pending.answer
        picture, pending.shown_boxes = boxed_picture(pending.image, reading)
        return {v.text: text_html(reading), v.boxes: picture, v.details: details_html(reading), v.alternatives: "",
                v.right: gr.update(value=reading.text)}

    def cleared(self) -> dict:
        v = self.view
        return {v.text: "", v.boxes: None, v.details: "", v.alternatives: ""}

    def store(self, pending: Pending, correct: str):
        return self.desk.submit_read(pending.image, pending.task, pending.said, correct, read_as=pending.answer,
                                     source="app")

    def show_alternatives(self, pending, evt: gr.SelectData) -> str:
        """A click on the picture: the alternatives of the character clicked."""
        point = evt.index if isinstance(evt.index, (list, tuple)) and len(evt.index) == 2 else None
        if not isinstance(pending, ReadPending) or point is None:
            return ""
        index = clicked(pending.shown_boxes, *point)
        return "" if index is None else alternatives_markdown(pending.answer.characters[index], index)


def reading_tab(tasks: list[Task], desk, concurrency_limit: int) -> ReadingPage:
    """The Read tab: write a number or a word on a wide pad (read after every stroke) or upload a picture."""
    task_input = gr.Radio([(t.choice, t.name) for t in tasks], value=tasks[0].name, label="Read", elem_id="read-task")
    with gr.Tabs():
        with gr.Tab("Draw", id="read-draw-tab") as draw_tab:
            sketch = DrawingCanvas(elem_id="read-sketch", width=PAD_WIDTH, height=PAD_HEIGHT, max_height=320,
                                   pen_fits_writing=True)
            draw_button = gr.Button("Read", variant="primary", elem_id="read-draw")
        with gr.Tab("Upload", id="read-upload-tab") as upload_tab:
            upload = ImageUpload(label="Upload", type="filepath", sources=["upload", "clipboard"], elem_id="read-upload")
            upload_button = gr.Button("Read", variant="primary", elem_id="read-upload-button")
    text = gr.HTML(elem_id="read-text")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            boxes = gr.Image(label="As it was split", elem_id="read-boxes",
                             type="pil", format="png", interactive=False, buttons=[])
            alternatives = gr.Markdown(elem_id="read-alternatives")
        with gr.Column(scale=2):
            details = gr.HTML(elem_id="read-details")
            controls = AnswerControls.build("read", lambda: gr.Textbox(label="What it says", elem_id="read-feedback-text",
                                                                        max_lines=1))
    view = ReadingView(last=gr.State(None), ask=controls.ask, correction=controls.correction, right=controls.right,
                       status=controls.status, text=text, boxes=boxes, details=details, alternatives=alternatives)
    page = ReadingPage(view, desk)
    page.listen(task_input, sketch, [(draw_button, sketch), (upload_button, upload)], [upload], concurrency_limit,
                sources=[(draw_tab, sketch), (upload_tab, upload)])
    boxes.select(page.show_alternatives, [view.last], alternatives, api_visibility="private", show_progress="hidden",
                 queue=False)
    page.wire(controls, concurrency_limit)
    return page
