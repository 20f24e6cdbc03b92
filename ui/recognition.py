"""Recognition at the edge: the public `/predict*` and `/model_info` endpoints, and the Digits / Letters tabs.

The API functions' docstrings are what `Client.view_api()` and the page's API docs show. The page's
handlers answer by component (a dict), so adding a component to the tab never shifts another's value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import gradio as gr

from handwriting import store
from handwriting.labels import TASK_LABELS, labels_for, lookalikes_of, unambiguous_name
from handwriting.recognizer import get_recognizer, predict, predict_each, predict_with_input, top_k
from ui.errors import USER_ERRORS, user_errors
from ui.feedback import AnswerControls, FeedbackDesk
from ui.inputs import DrawingCanvas, DrawingPad, ImageUpload, ImageUploads, is_empty
from ui.pictures import model_input_html

# ---------------------------------------------------------------------------------------------------
# The public API


@user_errors
def predict_image(image, task: str = "digits") -> dict[str, float]:
    """Recognise the character in an image file (photo, scan, screenshot or drawing).

    Args:
        image: the picture: PNG, JPEG, WebP, BMP or GIF; dark ink on light paper or light on dark.
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
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
        task: "digits" (0-9), "letters" (A-Z, a-z) or "all" (0-9, A-Z, a-z), where those models exist.
    Returns:
        the three most likely characters with their confidences.
    """
    return predict(sketch, task)


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
    return [label_value(answer) if isinstance(answer, dict) else {"error": str(answer)}
            for answer in predict_each(images, task)]


def label_value(probabilities: dict[str, float], k: int = 3) -> dict:
    """{label: probability} as a gr.Label(num_top_classes=k) sends it: the top label and the top k."""
    best = top_k(probabilities, k)
    return {"label": best[0][0], "confidences": [{"label": label, "confidence": p} for label, p in best]}


def model_info() -> dict:
    """Which model serves each task: its version, where it came from (the bundled folder, or the hub
    repo, revision and commit) and its measured accuracy.

    Returns:
        {task: {"version", "source", "repo", "revision", "commit", "headline", ...}}; a task with no
        model has {"available": false, "error": ...}.
    """
    return store.model_info()


def model_info_markdown() -> str:
    """One line per task saying which model version serves it and where it came from."""
    lines = []
    for task, info in store.model_info().items():
        if info.get("available", True):
            figures = info.get("headline") or ""
            lines.append(f"- **{task}**: model `{info['version']}` from {info['source']}" + (f" · {figures}" if figures else ""))
    return "\n".join(lines) or "No model is available."


def model_available(task: str) -> bool:
    """Whether a model serves `task` (bundled or from the hub)."""
    return store.model_info([task])[task].get("available", True)


def recognition_api(concurrency_limit: int) -> None:
    """The public `/predict` (image file, task), `/predict_sketch` (image-editor value, task) and
    `/predict_batch` (image files, task) endpoints: hidden inputs, like `/feedback`. They hold no state:
    the page's Predict is a listener of its own."""
    with gr.Column(visible=False):
        image = ImageUpload(label="image", type="filepath", sources=["upload"])
        sketch = DrawingPad(label="sketch", type="numpy", image_mode="RGBA", layers=False, transforms=())
        task = gr.Dropdown(list(TASK_LABELS), value="digits", label="task")
        label = gr.Label(num_top_classes=3, label="prediction")
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


def lookalike_hint(label, task: str) -> str:
    """A plain note when the top answer has look-alikes in this task (o/O/0, l/I/1, s/S, ...).

    `label` is the Label's value as an input: {character: confidence}."""
    if not isinstance(label, dict) or not label:
        return ""
    top = str(max(label.items(), key=lambda kv: kv[1])[0])
    others = [c for c in lookalikes_of(top) if c in labels_for(task)]
    if not others:
        return ""
    names = " or ".join(f"**{unambiguous_name(c)}**" for c in others)  # the page's font draws I and l alike
    return (f"**{unambiguous_name(top)}** looks just like {names} once the size is evened out: the model sees "
            f"the shape, not how big it was drawn, so it cannot always tell them apart. If you meant {names}, "
            "say so below: corrections like that teach it.")


@dataclass
class RecognitionView:
    """What a recognition tab's handlers update."""

    label: gr.Label
    last: gr.State  # the prediction the buttons answer, made and kept on the server
    ask: gr.Column  # "Is this correct?"
    correction: gr.Row  # the list of labels and Send
    right: gr.Dropdown
    status: gr.Markdown
    hint: gr.Markdown  # look-alike characters, said plainly
    seen: gr.HTML  # the 28x28 picture the model was given

    @property
    def outputs(self) -> list:
        return [getattr(self, f.name) for f in fields(self)]


class RecognitionPage:
    """The handlers of one recognition tab: Predict (and live after each stroke) and "Is this correct?".

    The page's prediction is made and kept on the server (the session's `gr.State`: task, label,
    confidence, model version, the input and what the model saw); Yes and Send only say which label is
    right, so no request can make the store keep a prediction the model did not make. Any error or new
    input clears it: feedback is only ever stored for the drawing whose prediction is on screen.
    """

    def __init__(self, view: RecognitionView, desk: FeedbackDesk):
        self.view = view
        self.desk = desk

    def page_predict(self, image, task) -> dict:
        """The page's Predict (and upload): the top-3, what the model saw, the look-alike note, and "Is
        this correct?" for it. A problem with the input is said in the status line under the answer (a
        toast would cover the page's top on a phone) and clears the previous prediction and its buttons."""
        v = self.view
        try:
            probabilities, x = predict_with_input(image, task)
            version = get_recognizer(task).record.version
        except USER_ERRORS as exc:
            return {**self.forget(), v.status: f"**Not recognised:** {exc}"}
        predicted, confidence = max(probabilities.items(), key=lambda kv: kv[1])
        last = {"task": task, "predicted": predicted, "confidence": float(confidence), "model_version": version,
                "image": image, "x": x, "stored_id": None}
        return {v.label: probabilities, v.last: last, v.ask: gr.update(visible=True),
                v.correction: gr.update(visible=False), v.right: gr.update(choices=list(labels_for(task)), value=None),
                v.status: "", v.hint: lookalike_hint(probabilities, task), v.seen: model_input_html(x)}

    def page_live(self, drawing, task) -> dict:
        """After each stroke on the pad (and when it is cleared): the same as Predict; an empty pad just
        clears the prediction."""
        if is_empty(drawing):
            return self.forget()
        return self.page_predict(drawing, task)

    def forget(self) -> dict:
        """A new or cleared input: the prediction on screen no longer describes it."""
        v = self.view
        return {v.label: None, v.last: None, v.ask: gr.update(visible=False), v.correction: gr.update(visible=False),
                v.right: gr.update(value=None), v.status: "", v.hint: "", v.seen: ""}

    def confirm(self, last) -> dict:
        """Yes: store the prediction as confirmed."""
        return self._answer(last, last["predicted"] if last else None)

    def correct(self, last, right) -> dict:
        """Send: store the correction chosen from the task's labels."""
        if last and not right:
            return {self.view.status: "**Not stored:** Choose the right answer from the list first."}
        return self._answer(last, right)

    def _answer(self, last, correct) -> dict:
        return self.desk.answer(self.view, last, lambda: self.desk.store(
            last["image"], last["task"], last["predicted"], correct, x=last.get("x"), confidence=last["confidence"],
            model_version=last["model_version"], source="app"), "Predict", "prediction")


def recognition_tab(task: str, desk: FeedbackDesk, concurrency_limit: int, choices=None) -> RecognitionPage:
    """Draw / Upload inputs, Predict buttons, the top-3 Label and "Is this correct?" for one task.

    With `choices` the visitor picks the task among them (else a hidden dropdown fixes it). Every listener
    is private: API callers use `/predict`, `/predict_sketch`, `/predict_batch` and `/feedback`.
    """
    if choices:
        task_input = gr.Radio(choices, value=task, label="Recognise", elem_id=f"{task}-task")
    else:
        task_input = gr.Dropdown(list(TASK_LABELS), value=task, label="task", visible=False)
    with gr.Row(equal_height=False):
        with gr.Column():
            with gr.Tabs():
                with gr.Tab("Draw", id=f"{task}-draw-tab"):
                    sketch = DrawingCanvas(elem_id=f"{task}-sketch")  # recognised after every stroke
                    draw_button = gr.Button("Predict", variant="primary", elem_id=f"{task}-predict-draw")
                with gr.Tab("Upload", id=f"{task}-upload-tab"):
                    upload = ImageUpload(label="Upload", type="filepath", sources=["upload", "clipboard"],
                                         elem_id=f"{task}-upload")
                    upload_button = gr.Button("Predict", variant="primary", elem_id=f"{task}-predict-upload")
        with gr.Column():
            label = gr.Label(num_top_classes=3, label="Prediction", elem_id=f"{task}-label")
            seen = gr.HTML(elem_id=f"{task}-seen")
            hint = gr.Markdown(elem_id=f"{task}-hint")
            answer = AnswerControls.build(task, lambda: gr.Dropdown(
                list(labels_for(task)), value=None, label="The right answer", elem_id=f"{task}-feedback-label"))
    view = RecognitionView(label=label, last=gr.State(None), ask=answer.ask, correction=answer.correction,
                           right=answer.right, status=answer.status, hint=hint, seen=seen)
    page = RecognitionPage(view, desk)

    shown = view.outputs
    predicting = dict(fn=page.page_predict, outputs=shown, api_visibility="private",
                      concurrency_limit=concurrency_limit, concurrency_id="recognise")
    draw_button.click(inputs=[sketch, task_input], **predicting)
    upload_button.click(inputs=[upload, task_input], **predicting)
    upload.upload(inputs=[upload, task_input], **predicting)
    # Live: every stroke (and a clear) is judged; while one is judged, only the newest drawing waits.
    sketch.change(page.page_live, [sketch, task_input], shown, api_visibility="private", show_progress="hidden",
                  trigger_mode="always_last", concurrency_limit=concurrency_limit, concurrency_id="recognise")
    quick = dict(api_visibility="private", show_progress="hidden", queue=False)
    for cleared in (upload.clear, task_input.change):  # the prediction on screen is no longer this input's
        cleared(page.forget, None, shown, **quick)
    answer.wire(view.last, page.confirm, page.correct, concurrency_limit)
    return page
