"""The floor for a capacity run: a bare Gradio app with the app's `/predict` (an image and a task, a
constant Label) and a live listener as the page's drawing pad uses it (a data URL after every stroke,
through the queue, `trigger_mode="always_last"`, in a browser session), both answering a constant.

    python -m benchmarks.bare_page_app      # serves on GRADIO_SERVER_NAME/PORT

`/predict` is benchmarks/bare_app.py's; the live listener is named `page_live`, like the page's.
"""

from __future__ import annotations

from handwriting.config import quiet_third_parties

quiet_third_parties()  # before gradio is imported

import os  # noqa: E402

import gradio as gr  # noqa: E402

from benchmarks.bare_app import CONSTANT, predict  # noqa: E402

CONCURRENCY = 16  # as app.py's PREDICT_CONCURRENCY


def page_live(drawing: str, task: str = "digits"):
    """A constant answer and the session's state: the drawing is not read."""
    return CONSTANT, drawing[:16]


with gr.Blocks() as demo:
    image = gr.Image(type="filepath")
    task = gr.Textbox(value="digits")
    label = gr.Label(num_top_classes=3)
    gr.Button("Predict").click(predict, [image, task], label, api_name="predict", concurrency_limit=CONCURRENCY)
    drawing = gr.Textbox(elem_id="digits-sketch")
    last = gr.State(None)
    drawing.change(page_live, [drawing, task], [label, last], api_name="page_live", trigger_mode="always_last",
                   concurrency_limit=CONCURRENCY, show_progress="hidden")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=CONCURRENCY).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
