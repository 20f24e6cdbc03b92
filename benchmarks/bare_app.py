"""The floor of a stateless call: a bare Gradio app with one Image input and one Label, the same
`/predict` endpoint name and launch settings, answering a constant without reading the image.

    python -m benchmarks.bare_app        # serves on GRADIO_SERVER_NAME/PORT

What the real app costs above it is the page's structure (its blocks, per session) plus the model and
preprocessing; benchmarks/null_app.py (the real app, do-nothing model) separates the two.
"""

from __future__ import annotations

from handwriting.config import quiet_third_parties

quiet_third_parties()  # before gradio is imported

import os  # noqa: E402

import gradio as gr  # noqa: E402

CONSTANT = {"0": 0.5, "1": 0.3, "2": 0.2}


def predict(image, task: str = "digits") -> dict[str, float]:
    """A constant answer: the image is not read."""
    return CONSTANT


with gr.Blocks() as demo:
    image = gr.Image(type="filepath")
    task = gr.Textbox(value="digits")
    label = gr.Label(num_top_classes=3)
    gr.Button("Predict").click(predict, [image, task], label, api_name="predict", concurrency_limit=16)

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=16).launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                                                    server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
