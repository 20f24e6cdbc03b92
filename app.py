"""The Gradio app: the page put together from `ui/`, served with the bundled (or hub) models.

    python app.py            # serves on http://127.0.0.1:7860 (GRADIO_SERVER_NAME/PORT to change)

Importing this module builds the page (`demo`, as Hugging Face Spaces expects) and opens nothing: the
feedback store, the Google Sheets sender and the model warm-up start when the server launches.
"""

from handwriting.config import quiet_third_parties

quiet_third_parties()  # before gradio is imported

import logging  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

from handwriting.config import settings  # noqa: E402
from handwriting.feedback import FeedbackRecorder  # noqa: E402
from handwriting.models import available, warm_up  # noqa: E402
from handwriting.service import FeedbackDesk  # noqa: E402
from handwriting.tasks import TASKS, get_task  # noqa: E402
from ui import style  # noqa: E402
from ui.feedback import feedback_api  # noqa: E402
from ui.game import GameEndpoints, game_tab  # noqa: E402
from ui.reading import reading_api, reading_tab  # noqa: E402
from ui.recognition import model_info_markdown, recognition_api, recognition_tab  # noqa: E402
from ui.gradio_patches import GuardedBlocks  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent / "examples"  # made by examples/make.py from the test fixtures
# (file, task, caption): offered where a model serves the task
EXAMPLE_PICTURES = {
    "digits": [("digit-7-photo.jpg", "digits", "A photo of a 7")],
    "letters": [("letter-R-photo.jpg", "letters", "A photo of an R")],
    "read": [("number-2026.jpg", "digits", "A number: 2026"), ("word-hello.jpg", "letters", "A word: hello")],
}
PREDICT_CONCURRENCY = 16  # requests preprocessed at once; the model calls are shared by a micro-batcher


def build_demo(recorder: FeedbackRecorder | None = None) -> GuardedBlocks:
    """The page. `recorder` stores the feedback (default: from the environment, see handwriting/config.py);
    it starts, with the model warm-up, when the page is launched."""
    recorder = recorder or FeedbackRecorder.from_settings()
    desk = FeedbackDesk(recorder)
    with GuardedBlocks(title="Handwriting recognition", delete_cache=settings().upload_cleanup) as demo:
        gr.Markdown(  # on a phone only the title and the first line show: the pad must fit the first screen
            "# Handwriting recognition\n"
            "Draw a character or upload a photo: a neural network says what it sees after every stroke.\n\n"
            "<p class='intro-more'>It shows how sure it is and the picture it was given. Write a whole number "
            "or word in <b>Read</b>. Tell it when it is wrong: corrections are kept to train better models. Or "
            "race the clock in the <b>Game</b>.</p>", elem_id="intro"
        )
        served = [task for task in TASKS.values() if available(task)]  # every registered task with a model
        others = [task for task in served if task.name != "digits"]
        with gr.Tabs():
            with gr.Tab("Digits", id="digits"):
                recognition_tab(get_task("digits"), desk, PREDICT_CONCURRENCY, examples=examples("digits", served))
            if others:  # letters, all characters, and any task registered since, where a model serves it
                with gr.Tab("Letters", id="letters"):
                    recognition_tab(others[0], desk, PREDICT_CONCURRENCY, choices=others,
                                    examples=examples("letters", served))
            with gr.Tab("Read", id="read"):  # a whole number or word
                reading_tab(served, desk, PREDICT_CONCURRENCY, examples=examples("read", served))
            with gr.Tab("Game", id="game"):
                game_tab(GameEndpoints(desk), demo, PREDICT_CONCURRENCY)
        recognition_api(PREDICT_CONCURRENCY)
        reading_api(PREDICT_CONCURRENCY)
        feedback_api(desk, PREDICT_CONCURRENCY)
        with gr.Accordion("Models", open=False):
            gr.Markdown(model_info_markdown(), elem_id="model-info")
            storage = gr.Markdown(elem_id="storage-status")  # says when corrections cannot be stored
        demo.load(recorder.storage_note, None, storage, api_visibility="private", show_progress="hidden")
    demo.on_launch += [recorder.start, start_warm_up]
    return demo


def examples(tab: str, served) -> list:
    """The tab's example pictures whose task a model serves."""
    names = {task.name for task in served}
    return [(EXAMPLES / file, task, caption) for file, task, caption in EXAMPLE_PICTURES[tab]
            if task in names and (EXAMPLES / file).is_file()]


def start_warm_up() -> None:
    """Load the digits model in the background, so the first visitor does not wait for it."""
    threading.Thread(target=warm_up, args=("digits",), name="warm-up", daemon=True).start()


def launch_options() -> dict:
    """What every launch passes (python app.py, the tests, the benchmarks): upload and session limits,
    the page's style."""
    cfg = settings()
    return dict(max_file_size=cfg.max_file_size, state_session_capacity=cfg.max_sessions, css=style.CSS,
                theme=style.theme())


recorder = FeedbackRecorder.from_settings()
demo = build_demo(recorder)

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = settings()
    demo.queue(default_concurrency_limit=PREDICT_CONCURRENCY).launch(
        server_name=cfg.host, server_port=cfg.port, **launch_options()
    )
