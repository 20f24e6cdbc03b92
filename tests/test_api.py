"""The auto-generated API, through gradio_client against the launched app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import imagegen


@pytest.fixture(scope="module")
def files(tmp_path_factory, mnist_samples):
    """Good and bad image files, keyed by name; good ones are MNIST fixture digits (the label is in the key)."""
    x, y = mnist_samples
    contents = {}
    for i in (0, 25, 47, 71, 99, 123, 150, 177):
        contents[f"digit{y[i]}_{i}.png"] = imagegen.encode(imagegen.dark_on_white(x[i]))
        contents[f"canvas{y[i]}_{i}.png"] = imagegen.encode(imagegen.canvas_rgba(x[i]))
    contents["photo.jpg"] = imagegen.encode(imagegen.photo(x[60]), "JPEG", quality=80)  # a 3
    contents["cmyk.jpg"] = imagegen.cmyk_jpeg(x[60])
    contents["16bit.png"] = imagegen.png_16bit(x[60])
    contents["layer.png"] = imagegen.encode(imagegen.transparent_layer(x[60]))
    contents["text.png"] = b"just some text pretending to be a picture\n"
    contents["truncated.png"] = imagegen.truncated_png(x[60])
    contents["tiny.png"] = imagegen.encode(Image.new("L", (1, 1), 0))
    contents["huge.png"] = imagegen.huge_png(20000)
    contents["black.png"] = imagegen.encode(Image.new("L", (200, 200), 0))
    contents["white.png"] = imagegen.encode(Image.new("L", (200, 200), 255))
    contents["too_big_upload.bmp"] = imagegen.over_upload_limit(seed=0)
    assert y[60] == 3
    return imagegen.write_files(tmp_path_factory.mktemp("api-files"), contents)


def top(result) -> str:
    return result["label"]


def sketch(path=None, background=None, layers=()):
    return {
        "background": handle_file(background) if background else None,
        "layers": [handle_file(p) for p in layers],
        "composite": handle_file(path) if path else None,
    }


def test_view_api_documents_both_endpoints(client):
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/predict", "/predict_sketch"} <= set(info)
    for name, first in (("/predict", "image"), ("/predict_sketch", "sketch")):
        params = [p["parameter_name"] for p in info[name]["parameters"]]
        assert params == [first, "task"]
        task = info[name]["parameters"][1]
        assert task["parameter_has_default"] and task["parameter_default"] == "digits"
        assert "digits" in task["type"]["enum"]
        assert info[name]["description"].startswith("Recognise")  # the function's docstring
    assert 'api_name="/predict"' in client.view_api(print_info=False, return_format="str")


def test_predict_upload_recognises_digits(client, files):
    for name, path in files.items():
        if name.startswith("digit"):
            result = client.predict(handle_file(path), "digits", api_name="/predict")
            assert top(result) == name[5], name
            assert len(result["confidences"]) == 3
            confidences = [c["confidence"] for c in result["confidences"]]
            assert confidences == sorted(confidences, reverse=True)


def test_predict_sketch_recognises_drawings(client, files):
    for name, path in files.items():
        if name.startswith("canvas"):
            assert top(client.predict(sketch(path), "digits", api_name="/predict_sketch")) == name[6], name
    white = files["white.png"]
    result = client.predict(sketch(background=white, layers=[files["layer.png"]]), api_name="/predict_sketch")
    assert top(result) == "3"  # background plus a transparent stroke layer, no composite; task defaults to digits


@pytest.mark.parametrize("name", ["photo.jpg", "cmyk.jpg", "16bit.png", "layer.png"])
def test_unusual_but_valid_images_are_recognised(client, files, name):
    assert top(client.predict(handle_file(files[name]), "digits", api_name="/predict")) == "3"


@pytest.mark.parametrize(
    "name, message",
    [
        ("text.png", "not an image"),
        ("truncated.png", "damaged or incomplete"),
        ("tiny.png", "too small"),
        ("huge.png", "too large"),
        ("black.png", "blank"),
        ("white.png", "blank"),
    ],
)
def test_bad_uploads_get_a_clear_error_and_the_app_keeps_serving(client, files, name, message):
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(files[name]), "digits", api_name="/predict")
    with pytest.raises(AppError, match=message):
        client.predict(sketch(files[name]), "digits", api_name="/predict_sketch")
    assert top(client.predict(handle_file(files["digit7_150.png"]), "digits", api_name="/predict")) == "7"


def test_blank_canvas_and_bad_tasks(client, files):
    with pytest.raises(AppError, match="canvas is empty"):
        client.predict(sketch(), "digits", api_name="/predict_sketch")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(handle_file(files["digit7_150.png"]), "klingon", api_name="/predict")
    assert top(client.predict(sketch(files["canvas7_150.png"]), "digits", api_name="/predict_sketch")) == "7"


def test_uploads_over_the_size_limit_are_refused(client, files):
    with pytest.raises(Exception, match="(?i)too large|exceeds|413|max"):
        client.predict(handle_file(files["too_big_upload.bmp"]), "digits", api_name="/predict")
    assert top(client.predict(handle_file(files["digit7_150.png"]), "digits", api_name="/predict")) == "7"


def test_concurrent_clients_each_get_their_own_answer(client, files):
    jobs = [(name[5], path) for name, path in files.items() if name.startswith("digit")] * 4

    def ask(job):
        expected, path = job
        return expected, top(client.predict(handle_file(path), "digits", api_name="/predict"))

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, jobs))
    assert all(expected == got for expected, got in answers)


def test_model_info_says_what_serves_each_task(client):
    info = client.predict(api_name="/model_info")
    digits = info["digits"]
    from handwriting.model_folder import MODELS_DIR, read_metrics

    assert digits["available"] and digits["version"] == read_metrics(MODELS_DIR / "digits")["version"]
    assert digits["source"] == "bundled models/digits" and digits["accuracy"]["mnist_test"] >= 0.996
    assert set(info) == {"digits", "letters", "all"}


TASKS = ["digits", "letters", "all"]


def stroke_letter(path, strokes) -> str:
    """Draw a capital with a thick black pen on a white 280x280 canvas, as a person would."""
    from PIL import ImageDraw

    img = Image.new("RGB", (280, 280), "white")
    pen = ImageDraw.Draw(img)
    for stroke in strokes:
        pen.line(stroke, fill="black", width=22, joint="curve")
    img.save(path)
    return str(path)


@pytest.fixture(scope="module")
def letter_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("letters")
    return {
        "L": stroke_letter(folder / "L.png", [[(90, 40), (90, 240), (200, 240)]]),
        "T": stroke_letter(folder / "T.png", [[(50, 45), (230, 45)], [(140, 45), (140, 245)]]),
        "H": stroke_letter(folder / "H.png", [[(70, 40), (70, 240)], [(210, 40), (210, 240)], [(70, 140), (210, 140)]]),
        "A": stroke_letter(folder / "A.png", [[(50, 245), (140, 35), (230, 245)], [(90, 160), (190, 160)]]),
    }


@pytest.mark.parametrize("task", TASKS)
def test_every_bundled_task_answers_with_its_own_labels(client, files, letter_files, task):
    from handwriting.tasks import labels_for
    from handwriting.models import ModelUnavailableError
    from handwriting.models import resolve as resolve_model

    try:
        resolve_model(task)
    except ModelUnavailableError:  # a task with no model says so clearly
        with pytest.raises(AppError, match=f"{task} model is not available"):
            client.predict(handle_file(files["digit7_150.png"]), task, api_name="/predict")
        return
    for char, path in letter_files.items() if task != "digits" else []:
        for result in (client.predict(handle_file(path), task, api_name="/predict"),
                       client.predict(sketch(path), task, api_name="/predict_sketch")):
            labels = [c["label"] for c in result["confidences"]]
            assert set(labels) <= set(labels_for(task)) and len(labels) == 3
            assert char in labels, (task, char, result)  # a clear capital is in the top 3
    for name, message in (("text.png", "not an image"), ("white.png", "blank"), ("huge.png", "too large")):
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(files[name]), task, api_name="/predict")
    with pytest.raises(AppError, match="canvas is empty"):
        client.predict(sketch(), task, api_name="/predict_sketch")


def test_session_state_is_bounded(app_url):
    """Every API call without a session is a new Gradio session (~0.2 MB kept each): the launch caps them."""
    import app
    from handwriting.config import settings

    assert app.demo.state_holder.capacity == settings().max_sessions == 1000


@pytest.mark.slow
def test_uploads_are_deleted_from_gradios_cache_after_their_time(monkeypatch, mnist_samples):
    """A hosted demo would otherwise keep every drawing and upload on disk until it restarts."""
    import time
    from pathlib import Path

    import httpx

    import app
    import rawapi
    from conftest import free_port

    monkeypatch.setenv("HANDWRITING_UPLOAD_TTL", "5")  # long enough to answer first on a busy machine
    demo = app.build_demo()
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        base = f"http://127.0.0.1:{port}"
        x, y = mnist_samples
        with httpx.Client(timeout=30) as http:
            image = rawapi.upload(http, base, imagegen.encode(imagegen.dark_on_white(x[0])))
            answer = rawapi.call(http, base, "predict", image, "digits")
        assert answer["label"] == str(y[0])
        uploaded = Path(image["path"])
        assert uploaded.exists()  # kept while it is fresh
        deadline = time.monotonic() + 20
        while uploaded.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not uploaded.exists()
    finally:
        demo.close()


def test_predict_batch_answers_each_image_as_predict_does_and_a_bad_one_only_for_itself(client, files):
    digits = sorted(n for n in files if n.startswith("digit"))
    canvases = sorted(n for n in files if n.startswith("canvas"))
    names = [digits[0], "photo.jpg", "text.png", canvases[1], "white.png", "16bit.png", digits[-1]]
    answers = client.predict([handle_file(files[n]) for n in names], "digits", api_name="/predict_batch")
    assert len(answers) == len(names)
    for name, answer in zip(names, answers):
        if name in ("text.png", "white.png"):
            assert set(answer) == {"error"} and ("not an image" in answer["error"] or "blank" in answer["error"])
            continue
        single = client.predict(handle_file(files[name]), "digits", api_name="/predict")
        assert answer["label"] == single["label"]
        assert [c["label"] for c in answer["confidences"]] == [c["label"] for c in single["confidences"]]
        assert answer["confidences"][0]["confidence"] == pytest.approx(single["confidences"][0]["confidence"], abs=1e-5)


def test_predict_batch_refuses_too_many_or_too_much_before_reading_any(client, files, monkeypatch):
    from ui import inputs

    four = [handle_file(files["digit7_150.png"])] * 4
    monkeypatch.setattr(inputs, "MAX_BATCH_IMAGES", 3)
    with pytest.raises(AppError, match=r"Too many images \(4\): at most 3"):
        client.predict(four, "digits", api_name="/predict_batch")
    monkeypatch.setattr(inputs, "MAX_BATCH_IMAGES", 1000)
    monkeypatch.setattr(inputs, "MAX_BATCH_BYTES", 100)
    with pytest.raises(AppError, match="at most 0 MB"):
        client.predict(four, "digits", api_name="/predict_batch")
    monkeypatch.setattr(inputs, "MAX_BATCH_BYTES", 100 * 2**20)
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(four, "chess", api_name="/predict_batch")
    assert [a["label"] for a in client.predict(four, "digits", api_name="/predict_batch")] == ["7"] * 4
