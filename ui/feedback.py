"""The public `/feedback` endpoint: a script says whether a prediction (or a reading) was right.

The page's Yes / Send answer through `ui.live`; both store through `handwriting.service.FeedbackDesk`.
"""

from __future__ import annotations

import gradio as gr

from handwriting.service import FeedbackDesk
from ui.errors import user_errors
from ui.inputs import ImageUpload
from ui.recognition import task_names

IDEMPOTENCY_HEADER = "idempotency-key"  # on /feedback: a retried call with the same key stores once


def _is_text(value) -> bool:
    """More than one character: feedback on a read line, not on one character."""
    return isinstance(value, str) and len(value.strip()) > 1


def feedback_endpoint(desk: FeedbackDesk):
    """The `/feedback` function, storing through `desk`."""

    @user_errors
    def feedback(image, task: str = "digits", predicted: str = "", correct: str = "", request: gr.Request = None) -> str:
        """Say whether a prediction was right, so future models learn from it.

        A retried call stores once: send an `Idempotency-Key` HTTP header (up to 128 letters, digits and
        . _ : -) and a call with the same key answers with the first call's record instead of storing again.
        A key is bound to its request: reused with another image, task or labels it is refused.

        For a line read by /read, send the text it gave as `predicted` and the text the picture says as
        `correct`: when they have as many characters, each character is stored with its box; otherwise the
        correction is kept whole and marked unmatched.

        Args:
            image: the picture that was recognised or read (PNG, JPEG, WebP, BMP or GIF).
            task: "digits", "letters" or "all" (where that model exists).
            predicted: the label the model gave (or the text /read gave).
            correct: the right label (or text); the same as `predicted` when the model was right; "?" when
                the picture is none of the task's characters (a doodle, a letter sent to digits).
        Returns:
            a confirmation naming the stored record's id.
        """
        key = request.headers.get(IDEMPOTENCY_HEADER) if request is not None and request.headers else None
        submit = desk.submit_read if _is_text(predicted) or _is_text(correct) else desk.submit
        return desk.confirmation(submit(image, task, predicted, correct, source="api", request_key=key))

    return feedback


def feedback_api(desk: FeedbackDesk, concurrency_limit: int) -> None:
    """The public `/feedback` endpoint (image, task, predicted, correct -> confirmation): hidden inputs."""
    with gr.Column(visible=False):
        image = ImageUpload(label="image", type="filepath", sources=["upload"])
        task = gr.Dropdown(task_names(), value="digits", label="task")
        predicted = gr.Textbox(label="predicted")
        correct = gr.Textbox(label="correct")
        confirmation = gr.Textbox(label="confirmation")
        send = gr.Button("Send feedback")
    send.click(feedback_endpoint(desk), [image, task, predicted, correct], confirmation, api_name="feedback",
               concurrency_limit=concurrency_limit, concurrency_id="feedback")
