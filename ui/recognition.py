"""Recognition at the edge: the public `/predict*` and `/model_info` endpoints, and the Digits / Letters tabs.

The API functions' docstrings are what `Client.view_api()` and the page's API docs show. The page's
handlers answer by component (a dict), so adding a component to the tab never shifts another's value.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from gradio.components.label import LabelConfidence, LabelData

from handwriting import service
from handwriting.refusal import REFUSED
from handwriting.tasks import TASKS, Task, unambiguous_name
from ui.errors import user_errors
from ui.inputs import DrawingCanvas, DrawingPad, ImageUpload, ImageUploads
from ui.live import AnswerControls, LivePage, LiveView, Pending
from ui.pictures import model_input_html


class AnswerLabel(gr.Label):
    """`gr.Label` that shows a `Prediction` as the model answered it: its label and its top 3."""

    def get_block_name(self) -> str:
        return "label"  # the page draws it with Gradio's own Label

    def get_block_class(self) -> str:
        return "label"

    def postprocess(self, value):
        if isinstance(value, service.Prediction):
            return LabelData(label=value.label, confidences=[LabelConfidence(label=label, confidence=p)
                                                             for label, p in value.top(self.num_top_classes or 3)])
        return super().postprocess(value)


# ---------------------------------------------------------------------------------------------------
# The public API


@user_errors
def predict_image(image, task: str = "digits") -> service.Prediction:
    """Recognise the character in an image file (photo, scan, screenshot or drawing).

    Args:
        image: the picture: PNG, JPEG, WebP, BMP or GIF; dark ink on light paper or light on dark.
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
    Returns:
        the three most likely characters with their confidences.
    """
    return service.predict(image, task)


@user_errors
def predict_sketch(sketch, task: str = "digits") -> service.Prediction:
    """Recognise a character drawn on the sketchpad.

    Args:
        sketch: an image-editor value {"background", "layers", "composite"}; the composite is used
            (send the drawing there), else the background with its layers on top.
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
    Returns:
        the three most likely characters with their confidences.
    """
    return service.predict(sketch, task)


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
    return [answer.as_json() if isinstance(answer, service.Prediction) else {"error": str(answer)}
            for answer in service.predict_many(images, task)]


def model_info() -> dict:
    """Which model serves each task: its version, where it came from (the bundled folder, or the hub
    repo, revision and commit) and its measured accuracy.

    Returns:
        {task: {"version", "source", "repo", "revision", "commit", "headline", ...}}; a task with no
        model has {"available": false, "error": ...}.
    """
    return service.model_info()


def model_info_markdown() -> str:
    """One line per task saying which model version serves it and where it came from."""
    lines = []
    for task, info in service.model_info().items():
        if info.get("available", True):
            figures = info.get("headline") or ""
            lines.append(f"- **{task}**: model `{info['version']}` from {info['source']}" + (f" · {figures}" if figures else ""))
    return "\n".join(lines) or "No model is available."


def task_names() -> list[str]:
    """The tasks an endpoint accepts: every registered one (a task without a model says so when asked)."""
    return list(TASKS)


def recognition_api(concurrency_limit: int) -> None:
    """The public `/predict` (image file, task), `/predict_sketch` (image-editor value, task) and
    `/predict_batch` (image files, task) endpoints: hidden inputs, like `/feedback`. They hold no state:
    the page's Predict is a listener of its own."""
    with gr.Column(visible=False):
        image = ImageUpload(label="image", type="filepath", sources=["upload"])
        sketch = DrawingPad(label="sketch", type="numpy", image_mode="RGBA", layers=False, transforms=())
        task = gr.Dropdown(task_names(), value="digits", label="task")
        label = AnswerLabel(num_top_classes=3, label="prediction")
        from_image, from_sketch = gr.Button("Predict image"), gr.Button("Predict sketch")
        images = ImageUploads(label="images")
        answers = gr.JSON(label="answers")
        from_images = gr.Button("Predict images")
    shared = dict(concurrency_limit=concurrency_limit, concurrency_id="recognise")
    from_image.click(predict_image, [image, task], label, api_name="predict", **shared)
    from_sketch.click(predict_sketch, [sketch, task], label, api_name="predict_sketch", **shared)
    from_images.click(predict_batch, [images, task], answers, api_name="predict_batch", concurrency_limit=2,
                      concurrency_id="recognise-batch")  # each holds up to 1,000 images: two at a time
    gr.api(model_info, api_name="model_info")


# ---------------------------------------------------------------------------------------------------
# The page


def lookalike_hint(top: str, task: Task) -> str:
    """A plain note when the answer `top` has look-alikes in the task (o/O/0, l/I/1, s/S, ...)."""
    others = task.lookalikes_of(top)
    if not others:
        return ""
    names = " or ".join(f"**{unambiguous_name(c)}**" for c in others)  # the page's font draws I and l alike
    return (f"**{unambiguous_name(top)}** looks just like {names} once the size is evened out: the model sees "
            f"the shape, not how big it was drawn, so it cannot always tell them apart. If you meant {names}, "
            "say so below: corrections like that teach it.")


def right_answers(task: Task) -> list[tuple[str, str]]:
    """What "The right answer" offers: each of the task's characters, then "none of them" (stored as "?"),
    for a doodle the model read as a character."""
    return [(c, c) for c in task.labels] + [(f"{REFUSED} (not a {task.noun})", REFUSED)]


def refusal_hint(prediction: service.Prediction) -> str:
    """What "?" means, in words, with the closest characters."""
    closest = ", ".join(label for label, _ in prediction.top(3))
    return (f"This doesn't look like a {prediction.task.noun}. Closest: {closest}. If it is one, say which below: "
            "corrections like that teach it.")


@dataclass
class RecognitionView(LiveView):
    """What a recognition tab's handlers update."""

    label: gr.Label = None
    hint: gr.Markdown = None  # look-alike characters, said plainly
    seen: gr.HTML = None  # the 28x28 picture the model was given


class RecognitionPage(LivePage):
    """The handlers of one recognition tab: Predict (and live after each stroke) and "Is this correct?"."""

    def answer(self, image, task: Task) -> service.Prediction:
        return service.predict(image, task)

    def shown(self, pending: Pending) -> dict:
        v, prediction = self.view, pending.answer
        hint = refusal_hint(prediction) if prediction.refused else lookalike_hint(prediction.label, prediction.task)
        return {v.label: prediction, v.right: gr.update(choices=right_answers(prediction.task), value=None),
                v.hint: hint, v.seen: model_input_html(prediction.model_input)}

    def cleared(self) -> dict:
        v = self.view
        return {v.label: None, v.right: gr.update(value=None), v.hint: "", v.seen: ""}

    def store(self, pending: Pending, correct: str):
        prediction = pending.answer
        return self.desk.submit(pending.image, pending.task, pending.said, correct, model_input=prediction.model_input,
                                confidence=prediction.confidence, model_version=prediction.model_version, source="app")


def recognition_tab(task: Task, desk, concurrency_limit: int, choices: list[Task] | None = None,
                    examples: list | None = None) -> RecognitionPage:
    """Draw / Upload inputs, Predict buttons, the top-3 Label and "Is this correct?" for one task; `examples`:
    pictures to try, (path, task name, caption).

    With `choices` the visitor picks the task among them (else a hidden dropdown fixes it). Every listener
    is private: API callers use `/predict`, `/predict_sketch`, `/predict_batch` and `/feedback`.
    """
    name = task.name
    if choices:
        task_input = gr.Radio([(t.choice, t.name) for t in choices], value=name, label="Recognise",
                              elem_id=f"{name}-task")
    else:
        task_input = gr.Dropdown([name], value=name, label="task", visible=False)
    with gr.Row(equal_height=False):
        with gr.Column():
            with gr.Tabs() as sources:
                with gr.Tab("Draw", id=f"{name}-draw-tab") as draw_tab:
                    sketch = DrawingCanvas(elem_id=f"{name}-sketch")  # recognised after every stroke
                    draw_button = gr.Button("Predict", variant="primary", elem_id=f"{name}-predict-draw")
                with gr.Tab("Upload", id=f"{name}-upload-tab") as upload_tab:
                    upload = ImageUpload(label="Upload", type="filepath", sources=["upload", "clipboard"],
                                         elem_id=f"{name}-upload")
                    upload_button = gr.Button("Predict", variant="primary", elem_id=f"{name}-predict-upload")
        with gr.Column():
            label = AnswerLabel(num_top_classes=3, label="Prediction", elem_id=f"{name}-label")
            seen = gr.HTML(elem_id=f"{name}-seen")
            hint = gr.Markdown(elem_id=f"{name}-hint")
            controls = AnswerControls.build(name, lambda: gr.Dropdown(
                right_answers(task), value=None, label="The right answer", elem_id=f"{name}-feedback-label"))
    view = RecognitionView(last=gr.State(None), ask=controls.ask, correction=controls.correction, right=controls.right,
                           status=controls.status, label=label, hint=hint, seen=seen)
    page = RecognitionPage(view, desk)
    page.listen(task_input, sketch, [(draw_button, sketch), (upload_button, upload)], [upload], concurrency_limit,
                sources=[(draw_tab, sketch), (upload_tab, upload)])
    page.examples(examples or [], upload, task_input, sources, f"{name}-upload-tab")
    page.wire(controls, concurrency_limit)
    return page
