"""Tasks: one registry entry plus a model folder adds a task to the API and the page; a request's task is
parsed once."""

from __future__ import annotations

import uuid

import httpx
import pytest

import app  # the app's own page, built before a test registers a task (the launched app's tests use it)
import imagegen
import rawapi
import tiny_models
from conftest import free_port
from handwriting import models, service, tasks
from handwriting.model_folder import MODELS_DIR
from handwriting.tasks import Task, get_task


@pytest.fixture
def ticks(tmp_path, monkeypatch):
    """A task registered for the test ("x" and "o", from a tiny two-output model), beside the bundled ones."""
    folder = tmp_path / "models"
    folder.mkdir()
    for bundled in ("digits", "letters", "all"):
        (folder / bundled).symlink_to(MODELS_DIR / bundled)
    tiny_models.write_folder(folder / "ticks", task="ticks", outputs=2)
    monkeypatch.setenv("HANDWRITING_MODELS_DIR", str(folder))
    monkeypatch.setenv("HANDWRITING_STORE_DIR", str(tmp_path / "store"))
    task = tasks.register(Task("ticks", ("x", "o"), "Ticks", "x, o", "tick"))
    models.forget()
    yield task
    tasks.unregister("ticks")
    models.forget()


def test_one_entry_and_a_model_folder_serve_a_new_task_through_the_api_and_the_page(ticks, mnist_samples):
    from handwriting.feedback import FeedbackRecorder

    demo = app.build_demo(FeedbackRecorder.from_settings())
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                        **app.launch_options())
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=60) as http:
            digit = imagegen.encode(imagegen.dark_on_white(mnist_samples[0][0]))
            upload = rawapi.upload(http, url, digit)
            answer = rawapi.call(http, url, "predict", upload, "ticks")
            assert answer["label"] in ("x", "o") and {c["label"] for c in answer["confidences"]} == {"x", "o"}
            # the page: the Letters tab offers it, and its own listener answers with it
            config = http.get(f"{url}/config").json()
            radios = [c["props"] for c in config["components"] if c.get("props", {}).get("elem_id") == "letters-task"]
            assert ["Ticks (x, o)", "ticks"] in radios[0]["choices"]
            page_answer = next(i for i, f in demo.fns.items() if getattr(f.fn, "__name__", "") == "page_answer"
                               and type(f.inputs[0]).__name__ == "ImageUpload"
                               and getattr(f.inputs[1], "elem_id", "") == "letters-task")
            shown = rawapi.queue_call(http, url, page_answer, [upload, "ticks"], uuid.uuid4().hex)
            label = next(i for i, c in enumerate(demo.fns[page_answer].outputs) if type(c).__name__ == "AnswerLabel")
            assert shown[label]["label"] in ("x", "o")
            # and the game plays it
            state = rawapi.call(http, url, "game_start", "ticks", 30, "", False)
            assert state["target"] in ("x", "o")
    finally:
        demo.close()


class CountingTasks(dict):
    """The registry, counting how often a name is looked up in it."""

    lookups = 0

    def get(self, key, default=None):
        CountingTasks.lookups += 1
        return super().get(key, default)


def test_a_request_parses_its_task_once(monkeypatch, mnist_samples, tmp_path):
    from handwriting.feedback import FeedbackRecorder
    from ui.recognition import predict_image

    monkeypatch.setattr(tasks, "TASKS", CountingTasks(tasks.TASKS))
    image = imagegen.encode(imagegen.dark_on_white(mnist_samples[0][0]))
    models.load("digits")  # loading the model is not part of a request
    CountingTasks.lookups = 0
    predict_image(image, "digits")
    assert CountingTasks.lookups == 1
    desk = service.FeedbackDesk(FeedbackRecorder(tmp_path))
    CountingTasks.lookups = 0
    desk.submit(image, "digits", "7", "7")
    assert CountingTasks.lookups == 1
    CountingTasks.lookups = 0
    service.read(imagegen.encode(imagegen.dark_on_white(mnist_samples[0][0])), "digits")
    assert CountingTasks.lookups == 1


def test_a_task_is_one_frozen_object_with_everything_said_about_it():
    digits = get_task("digits")
    assert get_task(digits) is digits and digits.labels == tuple("0123456789") and digits.index("7") == 7
    assert digits.choice == "Digits (0-9)" and digits.noun == "digit" and digits.model_name == "digits"
    assert get_task("all").lookalikes_of("O") == ("o", "0") and get_task("letters").lookalikes_of("O") == ("o",)
    with pytest.raises(tasks.UnknownTaskError, match="Unknown task 'symbols'"):
        get_task("symbols")
    with pytest.raises(tasks.UnknownTaskError, match="task of type list"):
        get_task(["digits"])
    with pytest.raises(AttributeError):
        digits.labels = ("a",)
