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
from handwriting.flagging import FeedbackRecorder  # noqa: E402
from handwriting.game import MAX_NAME, ROUND_LENGTHS  # noqa: E402
from handwriting.game_endpoints import (  # noqa: E402
    SUBMIT_KEY_JS,
    TICK_VIEW,
    VIEW,
    GameEndpoints,
    mode_choices,
)
from handwriting.gradio_inputs import DrawingCanvas, DrawingPad, ImageUpload, ImageUploads  # noqa: E402
from handwriting.gradio_server import GuardedBlocks, keep_visitors_first  # noqa: E402
from handwriting.labels import TASK_LABELS, labels_for  # noqa: E402
from handwriting.recognizer import warm_up  # noqa: E402

PREDICT_CONCURRENCY = 16  # requests preprocessed at once; the model calls are shared by a micro-batcher
# Look-alike characters must look different on the page (I, l and 1 are one glyph in the default font)
# and pictures of what the model saw stay crisp.
CSS = """
[id$='-label'] .output-class, [id$='-label'] .label, .glyph { font-family: 'IBM Plex Mono', ui-monospace, monospace; }
figure.model-input { display: inline-block; margin: 4px 8px 4px 0; text-align: center; }
figure.model-input img { width: 84px; height: 84px; image-rendering: pixelated; border-radius: 4px; }
[id$='-seen'] figure.model-input img { width: 112px; height: 112px; }
figure.model-input figcaption { font-size: var(--text-sm); max-width: 140px; }
"""
LETTER_TASKS = {"letters": "Letters (A-Z, a-z)", "all": "All characters (0-9, A-Z, a-z)"}  # the Letters tab's choices
FEEDBACK_CONCURRENCY = 16  # feedback requests at once; the store serialises only its short writes


def recognition_tab(task: str, feedback: endpoints.FeedbackEndpoints, choices=None) -> None:
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
                    upload = ImageUpload(
                        label="Upload",
                        type="filepath",
                        sources=["upload", "clipboard"],
                        elem_id=f"{task}-upload",
                    )
                    upload_button = gr.Button("Predict", variant="primary", elem_id=f"{task}-predict-upload")
        with gr.Column():
            label = gr.Label(num_top_classes=3, label="Prediction", elem_id=f"{task}-label")
            seen = gr.HTML(elem_id=f"{task}-seen")  # the 28x28 picture the model was given
            hint = gr.Markdown(elem_id=f"{task}-hint")  # look-alike characters, said plainly
            with gr.Column(visible=False, elem_id=f"{task}-feedback") as ask:
                gr.Markdown("**Is this correct?**")
                with gr.Row():
                    yes = gr.Button("Yes", elem_id=f"{task}-feedback-yes")
                    no = gr.Button("No", elem_id=f"{task}-feedback-no")
                with gr.Row(visible=False) as correction:
                    right = gr.Dropdown(list(labels_for(task)), value=None, label="The right answer",
                                        elem_id=f"{task}-feedback-label")
                    send = gr.Button("Send", variant="primary", elem_id=f"{task}-feedback-send", scale=0, min_width=120)
            status = gr.Markdown(elem_id=f"{task}-feedback-status")
    last = gr.State(None)  # the prediction the buttons answer, made and kept on the server

    # The page's own listeners are private; the public /predict and /predict_sketch are `recognition_api`.
    shown = [label, last, ask, correction, right, status, hint, seen]
    predicting = dict(fn=feedback.page_predict, outputs=shown, api_visibility="private",
                      concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="recognise")
    draw_button.click(inputs=[sketch, task_input], **predicting)
    upload_button.click(inputs=[upload, task_input], **predicting)
    upload.upload(inputs=[upload, task_input], **predicting)
    # Live: every stroke (and a clear) is judged; while one is judged, only the newest drawing waits.
    sketch.change(feedback.page_live, [sketch, task_input], shown, api_visibility="private", show_progress="hidden",
                  trigger_mode="always_last", concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="recognise")
    quick = dict(api_visibility="private", show_progress="hidden", queue=False)
    for cleared in (upload.clear, task_input.change):  # the prediction on screen is no longer this input's
        cleared(feedback.forget, None, shown, **quick)

    private = dict(api_visibility="private", concurrency_limit=FEEDBACK_CONCURRENCY, concurrency_id="feedback")
    yes.click(feedback.confirm, [last], [last, status, ask, correction], **private)
    no.click(feedback.ask_for_label, None, correction, api_visibility="private", show_progress="hidden")
    send.click(feedback.correct, [last, right], [last, status, ask, correction], **private)


def recognition_api() -> None:
    """The public `/predict` (image file, task), `/predict_sketch` (image-editor value, task) and
    `/predict_batch` (image files, task) endpoints: hidden inputs, like `/feedback`. They hold no state:
    the page's Predict is a listener of its own."""
    with gr.Column(visible=False):
        image = ImageUpload(label="image", type="filepath", sources=["upload"])
        sketch = DrawingPad(label="sketch", type="numpy", image_mode="RGBA", layers=False, transforms=())
        task = gr.Dropdown(list(TASK_LABELS), value="digits", label="task")
        label = gr.Label(num_top_classes=3, label="prediction")
        from_image, from_sketch = gr.Button("Predict image"), gr.Button("Predict sketch")
    shared = dict(concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="recognise")
    from_image.click(endpoints.predict_image, [image, task], label, api_name="predict", **shared)
    from_sketch.click(endpoints.predict_sketch, [sketch, task], label, api_name="predict_sketch", **shared)
    with gr.Column(visible=False):
        images = ImageUploads(label="images")
        answers = gr.JSON(label="answers")
        from_images = gr.Button("Predict images")
    from_images.click(endpoints.predict_batch, [images, task], answers, api_name="predict_batch", concurrency_limit=2,
                      concurrency_id="recognise-batch")  # each holds up to 1,000 images: two at a time


def feedback_api(feedback: endpoints.FeedbackEndpoints) -> None:
    """The public `/feedback` endpoint (image, task, predicted, correct -> confirmation): hidden inputs."""
    with gr.Column(visible=False):
        image = ImageUpload(label="image", type="filepath", sources=["upload"])
        task = gr.Dropdown(list(TASK_LABELS), value="digits", label="task")
        predicted = gr.Textbox(label="predicted")
        correct = gr.Textbox(label="correct")
        confirmation = gr.Textbox(label="confirmation")
        send = gr.Button("Send feedback")
    send.click(feedback.feedback, [image, task, predicted, correct], confirmation, api_name="feedback",
               concurrency_limit=FEEDBACK_CONCURRENCY, concurrency_id="feedback")


def game_tab(game: GameEndpoints, demo: gr.Blocks) -> None:
    """The Game tab: pick characters and a round length, draw each target shown, beat the clock.

    Round state is the session's `gr.State` (a round id; the rounds live in `game.game`), so two players
    never see each other's rounds. The page's listeners are private; the public `/game_*` endpoints are
    wired at the end (drawings go through hidden inputs, like `/feedback`).
    """
    choices, note = mode_choices()
    first_mode = choices[0][1] if choices else None
    with gr.Column() as setup:
        gr.Markdown("Draw the character you are asked for, as fast as you can. Right answers score, fast and "
                    "sure ones score more, and every right answer in a row adds 10% to the next.")
        with gr.Row():
            mode = gr.Radio(choices, value=first_mode, label="Characters", elem_id="game-mode")
            seconds = gr.Radio([(f"{s} s", s) for s in ROUND_LENGTHS], value=60, label="Round length",
                               elem_id="game-seconds")
        if note:
            gr.Markdown(note, elem_id="game-modes-note")
        with gr.Row():
            name = gr.Textbox(label="Your name for the high scores (optional)", max_length=MAX_NAME, elem_id="game-name")
            opt_in = gr.Checkbox(False, label="Keep my drawings to train better models (each is stored with the "
                                              "character I was asked for)", elem_id="game-opt-in")
        start = gr.Button("Start", variant="primary", elem_id="game-start")
        message = gr.Markdown(elem_id="game-message")
    with gr.Column(visible=False) as play:
        with gr.Row():
            clock = gr.Markdown(elem_id="game-clock")
            score = gr.Markdown(elem_id="game-score")
        with gr.Row(equal_height=False):
            with gr.Column():
                target = gr.HTML(elem_id="game-target")
                verdict = gr.Markdown(elem_id="game-verdict")
            with gr.Column():
                sketch = DrawingCanvas(elem_id="game-sketch")  # judged after every stroke
                with gr.Row():
                    submit = gr.Button("Submit (Enter)", variant="primary", elem_id="game-submit")
                    skip = gr.Button("Skip", elem_id="game-skip")
                    end = gr.Button("End round", variant="stop", elem_id="game-end")
    with gr.Column(visible=False) as summary:
        report = gr.Markdown(elem_id="game-report")
        misses = gr.HTML(elem_id="game-misses")  # the drawings the model got wrong, as it saw them
    high_scores = gr.HTML(elem_id="game-high-scores")
    state = gr.State(None)  # this session's round id
    timer = gr.Timer(1.0, active=False)

    parts = dict(state=state, timer=timer, setup=setup, play=play, summary=summary, message=message, target=target,
                 clock=clock, score=score, verdict=verdict, report=report, misses=misses, high_scores=high_scores,
                 sketch=sketch)
    view, tick_view = [parts[n] for n in VIEW], [parts[n] for n in TICK_VIEW]
    quick = dict(api_visibility="private", concurrency_limit=None, show_progress="hidden")
    start.click(game.page_start, [mode, seconds, name, opt_in, state], view, **quick)
    judging = dict(api_visibility="private", show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY,
                   concurrency_id="recognise")
    sketch.change(game.page_live, [state, sketch], view, trigger_mode="always_last", **judging)
    submit.click(game.page_submit, [state, sketch], view, **judging)
    skip.click(game.page_skip, [state], view, **quick)
    end.click(game.page_end, [state], view, **quick)
    timer.tick(game.page_tick, [state], tick_view, **quick)
    mode.change(game.page_high_scores, [mode], high_scores, **quick)
    demo.load(game.page_high_scores, [mode], high_scores, **quick)
    demo.load(None, js=SUBMIT_KEY_JS)

    with gr.Column(visible=False):  # /game_submit's inputs: a round id and a drawing
        api_round = gr.Textbox(label="round_id")
        api_sketch = DrawingPad(label="sketch", type="numpy", image_mode="RGBA", layers=False, transforms=())
        api_result = gr.JSON(label="result")
        api_submit = gr.Button("Submit")
    api_submit.click(game.game_submit, [api_round, api_sketch], api_result, api_name="game_submit",
                     concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="recognise")
    for fn in (game.game_start, game.game_skip, game.game_score, game.game_end, game.game_high_scores):
        gr.api(fn, api_name=fn.__name__, concurrency_limit=None)


def build_demo(recorder: FeedbackRecorder | None = None) -> gr.Blocks:
    """The page. `recorder` stores the feedback (default: from the environment, see handwriting/config.py)."""
    feedback = endpoints.FeedbackEndpoints(recorder or FeedbackRecorder.from_settings())
    keep_visitors_first()  # an API flood must not push out a visitor's prediction or game round
    with GuardedBlocks(title="Handwriting recognition", delete_cache=settings().upload_cleanup) as demo:
        gr.Markdown(
            "# Handwriting recognition\n"
            "Draw a digit or a letter, or upload a photo of one: a convolutional network says what it sees "
            "and how sure it is, after every stroke, and shows the picture it was given. Tell it when it is "
            "wrong: corrections are kept to train better models. Or race the clock in the **Game**."
        )
        with gr.Tabs():
            with gr.Tab("Digits", id="digits"):
                recognition_tab("digits", feedback=feedback)
            letter_tasks = [t for t in LETTER_TASKS if endpoints.model_available(t)]
            if letter_tasks:  # shown once a letters or all-characters model is bundled or on the hub
                with gr.Tab("Letters", id="letters"):
                    recognition_tab(letter_tasks[0], feedback=feedback,
                                    choices=[(LETTER_TASKS[t], t) for t in letter_tasks])
            with gr.Tab("Game", id="game"):
                game_tab(GameEndpoints(feedback.recorder), demo)
        recognition_api()
        feedback_api(feedback)
        with gr.Accordion("Models", open=False):
            gr.Markdown(endpoints.model_info_markdown(), elem_id="model-info")
        gr.api(endpoints.model_info, api_name="model_info")
    return demo


if __name__ == "__main__":  # before the recorder starts, so its start-up lines are logged
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

recorder = FeedbackRecorder.from_settings()
demo = build_demo(recorder)
threading.Thread(target=warm_up, args=("digits",), name="warm-up", daemon=True).start()

def launch_options() -> dict:
    """What every launch passes (python app.py, the tests, the benchmarks): upload and session limits,
    the page's style (the system's sans-serif, whose bold matches its regular: the theme's web font is not
    always reachable, and its bold then fell back to a larger font)."""
    cfg = settings()
    return dict(max_file_size=cfg.max_file_size, state_session_capacity=cfg.max_sessions, css=CSS,
                theme=gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"]))


if __name__ == "__main__":
    cfg = settings()
    demo.queue(default_concurrency_limit=PREDICT_CONCURRENCY).launch(
        server_name=cfg.host, server_port=cfg.port, **launch_options()
    )
