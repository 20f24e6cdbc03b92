"""The Gradio app: layout and wiring only. Everything it calls lives in `handwriting/`.

    python app.py            # serves on http://127.0.0.1:7860 (GRADIO_SERVER_NAME/PORT to change)
"""

from handwriting.config import quiet_third_parties

quiet_third_parties()  # before gradio is imported

import logging  # noqa: E402
import threading  # noqa: E402

import gradio as gr  # noqa: E402

from handwriting import endpoints  # noqa: E402
from handwriting.config import settings  # noqa: E402
from handwriting.gradio_inputs import DrawingPad, ImageUpload  # noqa: E402
from handwriting.labels import TASK_LABELS  # noqa: E402
from handwriting.recognizer import warm_up  # noqa: E402

PREDICT_CONCURRENCY = 16  # requests preprocessed at once; the model calls are shared by a micro-batcher


def recognition_tab(task: str, api: bool) -> None:
    """Draw / Upload inputs, Predict buttons and the top-3 Label for one task.

    With `api=True` its listeners are the public `/predict_sketch` and `/predict` endpoints, whose
    task argument is a hidden dropdown (API callers pick the task; the tab fixes it).
    """
    task_input = gr.Dropdown(list(TASK_LABELS), value=task, label="task", visible=False)
    with gr.Row(equal_height=False):
        with gr.Column():
            with gr.Tabs():
                with gr.Tab("Draw", id=f"{task}-draw-tab"):
                    sketch = DrawingPad(
                        label="Draw",
                        type="numpy",
                        image_mode="RGBA",
                        canvas_size=(280, 280),
                        brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
                        layers=False,
                        transforms=(),
                        elem_id=f"{task}-sketch",
                    )
                    draw_button = gr.Button("Predict", variant="primary", elem_id=f"{task}-predict-draw")
                with gr.Tab("Upload", id=f"{task}-upload-tab"):
                    upload = ImageUpload(
                        label="Upload",
                        type="filepath",
                        sources=["upload", "clipboard"],
                        elem_id=f"{task}-upload",
                    )
                    upload_button = gr.Button("Predict", variant="primary", elem_id=f"{task}-predict-upload")
        with gr.Column():
            label = gr.Label(num_top_classes=3, label="Prediction", elem_id=f"{task}-label")

    visibility = "public" if api else "private"
    shared = dict(concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="recognise", api_visibility=visibility)
    draw_button.click(endpoints.predict_sketch, [sketch, task_input], label, api_name="predict_sketch" if api else None, **shared)
    upload_button.click(endpoints.predict_image, [upload, task_input], label, api_name="predict" if api else None, **shared)
    upload.upload(endpoints.predict_image, [upload, task_input], label, api_name=False, **shared)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Handwriting recognition") as demo:
        gr.Markdown(
            "# Handwriting recognition\n"
            "Draw a digit, or upload a photo of one, and press **Predict**: a convolutional network "
            "trained on MNIST says what it sees and how sure it is."
        )
        with gr.Tabs():
            with gr.Tab("Digits", id="digits"):
                recognition_tab("digits", api=True)
        with gr.Accordion("Models", open=False):
            gr.Markdown(endpoints.model_info_markdown())
    return demo


demo = build_demo()
threading.Thread(target=warm_up, args=("digits",), name="warm-up", daemon=True).start()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = settings()
    demo.queue(default_concurrency_limit=PREDICT_CONCURRENCY).launch(
        server_name=cfg.host, server_port=cfg.port, max_file_size=cfg.max_file_size
    )
