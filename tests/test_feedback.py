"""Feedback: the record, the local store, the training file, bad input, the page's handlers, the API."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import gradio as gr
import httpx
import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

import imagegen
import rawapi
from handwriting.feedback import (FeedbackRecorder, FeedbackStorageError, InvalidFeedbackError, LocalSink, OutboxSink,
                                  make_read_feedback, make_record, open_store, request_fingerprint)
from handwriting.feedback.database import ORIGINALS_DIR
from handwriting.feedback.sender import Failure
from handwriting.tasks import UnknownTaskError, labels_for
from handwriting.preprocessing import BlankImageError, InvalidImageError, to_model_input
from handwriting.models import load as get_recognizer
from handwriting.service import predict
from handwriting.tasks import get_task
from training import feedback as feedback_cli
from training.feedback_file import TrainingSet, load_training_file, save_training_file
from handwriting.service import FeedbackDesk
from ui.recognition import recognition_tab

ID = re.compile(r"record ([0-9a-f]{32})")


@pytest.fixture(scope="module")
def images(tmp_path_factory, mnist_samples):
    """Image files keyed by name; "digitN_i" ones are MNIST fixture digits labelled N."""
    x, y = mnist_samples
    contents = {}
    for i in (3, 30, 60, 90, 120, 150, 180, 199):
        contents[f"digit{y[i]}_{i}.png"] = imagegen.encode(imagegen.dark_on_white(x[i], size=96))
    contents["canvas.png"] = imagegen.encode(imagegen.canvas_rgba(x[60]))  # a 3
    contents["huge.png"] = imagegen.huge_png(20000)
    contents["text.png"] = b"not a picture at all\n"
    contents["white.png"] = imagegen.encode(Image.new("L", (100, 100), 255))
    contents["too_big_upload.bmp"] = imagegen.over_upload_limit(seed=1)
    return imagegen.write_files(tmp_path_factory.mktemp("feedback-images"), contents)


def digits(images):
    return [(path, name[5]) for name, path in images.items() if name.startswith("digit")]


@pytest.fixture
def recorder(tmp_path):
    rec = FeedbackRecorder(tmp_path / "store", max_bytes=5 * 2**20)
    yield rec
    rec.store.close()


def page_for(recorder, task: str = "digits"):
    """A recognition tab's handlers, on a page of their own."""
    with gr.Blocks():
        return recognition_tab(get_task(task), FeedbackDesk(recorder), concurrency_limit=4)


def same_pixels(a, b) -> bool:
    with Image.open(a) as one, Image.open(b) as other:
        return one.mode == other.mode and np.array_equal(np.asarray(one), np.asarray(other))


def originals(folder) -> list:
    return sorted((folder / ORIGINALS_DIR).rglob("*.*")) if (folder / ORIGINALS_DIR).exists() else []


# ---------------------------------------------------------------------------------------------------
# Records and the store


def test_a_correction_is_stored_with_what_retraining_needs(recorder, images):
    path, label = digits(images)[0]
    wrong = str((int(label) + 1) % 10)
    record = FeedbackDesk(recorder).submit(path, "digits", wrong, label, source="api")

    stored = recorder.store.get(record.id)
    assert stored == record
    assert (stored.task, stored.predicted, stored.correct, stored.source) == ("digits", wrong, label, "api")
    assert stored.was_correct is False
    assert stored.model_version == get_recognizer("digits").record.version
    assert stored.confidence == pytest.approx(predict(path).as_dict()[wrong], abs=1e-5)  # the model's own figure
    expected = np.round(to_model_input(path) * 255).astype(np.uint8)
    assert np.array_equal(stored.pixels(), expected)
    assert len(stored.image_png_b64) < 1500  # fits a sheet cell many times over
    when = datetime.strptime(stored.created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=1)
    assert same_pixels(recorder.folder / stored.original_file, path)  # the upload, re-encoded without metadata
    assert recorder.store.count() == 1
    text = recorder.confirmation(record)
    assert record.id in text and f"the right answer is {label}" in text


def test_a_record_is_made_from_a_task_and_each_label_is_checked_once(monkeypatch):
    from handwriting.feedback import record as record_module

    checked = []
    real = record_module.check_label
    monkeypatch.setattr(record_module, "check_label", lambda label, task, role="correct": checked.append(role) or
                        real(label, task, role))
    pixels = np.arange(28 * 28, dtype=np.uint16).reshape(28, 28).astype(np.uint8)
    digits_task = get_task("digits")
    record = make_record(pixels, digits_task, " 3", "8", confidence={"3": 0.75, "8": 0.25}, model_version=7)
    assert checked == ["predicted", "correct"]  # once each
    assert (record.task, record.predicted, record.correct, record.model_version) == ("digits", "3", "8", "7")
    assert record.confidence == 0.75  # picked for the label once it was checked
    assert np.array_equal(record.pixels(), pixels)  # uint8 pixels are stored as they are
    with pytest.raises(InvalidFeedbackError, match="'B' is not a label of the digits task.*or \\? for none of them"):
        make_record(pixels, digits_task, "B", "8", confidence={"B": 0.9}, model_version="v")
    none = make_record(pixels, digits_task, "3", " ? ", confidence=0.6, model_version="v")  # a doodle read as 3
    assert (none.correct, none.was_correct) == ("?", False)
    for not_none in ("??", "? 3", "none"):
        with pytest.raises(InvalidFeedbackError, match="is not a label of the digits task"):
            make_record(pixels, digits_task, "3", not_none, confidence=0.6, model_version="v")

    checked.clear()
    characters = [(pixels, "2", 0.9, (0, 0, 5, 5)), (pixels, "6", 0.8, (6, 0, 9, 5))]
    read, records = make_read_feedback(digits_task, "26", "28", characters, model_version="v", read_as="26")
    assert checked == ["predicted", "predicted"]  # the labels read, once each; the texts by check_text, once
    assert [(r.predicted, r.correct) for r in records] == [("2", "2"), ("6", "8")] and read.matched
    with pytest.raises(InvalidFeedbackError, match="reads as '25', not '26'"):
        make_read_feedback(digits_task, "26", "28", characters, model_version="v", read_as="25")


def test_a_key_is_looked_up_with_the_labels_as_sent():
    """The API looks its idempotency key up before it checks the labels: spaces around them do not count."""
    assert request_fingerprint(None, get_task("digits"), " 7 ", "7") == request_fingerprint(None, "digits", "7", "7")
    assert request_fingerprint(None, "digits", "7", "1") != request_fingerprint(None, "digits", "7", "7")


def test_the_page_handlers_store_confirmations_and_corrections_once(recorder, images):
    ui = page_for(recorder)
    v = ui.view
    sketch = {"background": None, "layers": [], "composite": images["canvas.png"]}
    out = ui.page_answer(sketch, "digits")
    shown, last = out[v.label], out[v.last]
    predicted, confidence = shown.label, shown.confidence
    assert out[v.ask]["visible"] is True and out[v.correction]["visible"] is False and out[v.status] == ""
    assert (last.said, last.answer.confidence) == (predicted, confidence)  # what the model said, kept here

    out = ui.confirm(last)
    last, status = out[v.last], out[v.status]
    record = recorder.store.get(ID.search(status).group(1))
    assert (record.predicted, record.correct, record.was_correct, record.source) == (predicted, predicted, True, "app")
    assert record.confidence == pytest.approx(confidence) and "the model was right" in status
    assert out[v.ask]["visible"] is False
    assert same_pixels(recorder.folder / record.original_file, images["canvas.png"])
    assert "already stored" in ui.confirm(last)[v.status]  # a second click stores nothing more

    last = ui.page_answer(sketch, "digits")[v.last]
    for choice, message in ((None, "Choose the right answer"), ("B", "'B' is not a label of the digits task")):
        out = ui.correct(last, choice)  # said in the status line; the controls stay usable
        assert out[v.status].startswith("**Not stored:**") and message in out[v.status] and list(out) == [v.status]
    other = "3" if predicted != "3" else "8"
    status = ui.correct(last, other)[v.status]
    record = recorder.store.get(ID.search(status).group(1))
    assert (record.predicted, record.correct, record.was_correct) == (predicted, other, False)
    assert "Predict something first" in ui.confirm(None)[v.status]
    assert recorder.store.count() == 2


def test_an_error_clears_the_prediction_the_buttons_answer(recorder, images):
    """Upload a digit, then a blank picture: the error clears the earlier prediction and hides Yes/No, so
    no click can store "the model was right" for a picture no longer on screen."""
    ui = page_for(recorder)
    v = ui.view
    out = ui.page_answer(images["canvas.png"], "digits")
    assert out[v.label] and out[v.last] and out[v.ask]["visible"] is True
    blank = {"background": None, "layers": [], "composite": None}
    out = ui.page_answer(blank, "digits")
    assert out[v.label] is None and out[v.last] is None and out[v.ask]["visible"] is False
    assert out[v.correction]["visible"] is False and "canvas is empty" in out[v.status] and out[v.hint] == ""
    assert "Predict something first" in ui.confirm(out[v.last])[v.status] and recorder.store.count() == 0
    assert ui.forget()[v.last] is None  # a cleared input forgets it too


@pytest.mark.parametrize(
    "case, image, task, predicted, correct, error, message",
    [
        ("unknown label", "digit", "digits", "3", "Z", InvalidFeedbackError, "'Z' is not a label of the digits task"),
        ("label of another task", "digit", "digits", "3", "a", InvalidFeedbackError, "'a' is not a label of the digits"),
        ("bad predicted label", "digit", "digits", "33", "3", InvalidFeedbackError, "'33' is not a label"),
        ("no label", "digit", "digits", "3", "  ", InvalidFeedbackError, "No correct label was given"),
        ("unknown task", "digit", "klingon", "3", "3", UnknownTaskError, "Unknown task"),
        ("missing image", None, "digits", "3", "3", BlankImageError, "No image was given"),
        ("file gone", "/no/such/file.png", "digits", "3", "3", InvalidImageError, "could not be found"),
        ("decompression bomb", "huge.png", "digits", "3", "3", InvalidImageError, "too large"),
        ("file over the size limit", "too_big_upload.bmp", "digits", "3", "3", InvalidFeedbackError, "too large"),
        ("not an image", "text.png", "digits", "3", "3", InvalidImageError, "not an image"),
        ("blank", "white.png", "digits", "3", "3", BlankImageError, "blank"),
    ],
)
def test_bad_feedback_is_refused_and_nothing_is_stored(recorder, images, case, image, task, predicted, correct, error, message):
    if image == "digit":
        image = digits(images)[0][0]
    elif image in images:
        image = images[image]
    with pytest.raises(error, match=message):
        FeedbackDesk(recorder).submit(image, task, predicted, correct)
    assert recorder.store.count() == 0 and originals(recorder.folder) == []
    FeedbackDesk(recorder).submit(digits(images)[1][0], "digits", "1", "1")  # and the next good one is stored
    assert recorder.store.count() == 1


def test_a_failed_write_leaves_nothing_half_stored(recorder, images):
    class BrokenDisk(LocalSink):  # a sink whose write fails after the record row went in, in the same transaction
        name = "broken"

        def accept(self, store, record):
            raise sqlite3.OperationalError("disk I/O error")

    recorder.start().sinks.append(BrokenDisk())
    with pytest.raises(FeedbackStorageError, match="could not be stored"):
        FeedbackDesk(recorder).submit(digits(images)[0][0], "digits", "3", "5")
    assert recorder.store.count() == 0 and originals(recorder.folder) == []
    recorder.sinks.pop()
    record = FeedbackDesk(recorder).submit(digits(images)[0][0], "digits", "3", "5")
    assert recorder.store.records() == [record]


def test_an_unwritable_store_gives_a_clear_error(tmp_path, images):
    (tmp_path / "taken").write_text("a file where the data folder should be")
    rec = FeedbackRecorder(tmp_path / "taken")  # the app still starts
    with pytest.raises(FeedbackStorageError, match="could not be stored on the server"):
        FeedbackDesk(rec).submit(digits(images)[0][0], "digits", "3", "3")


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, time, uuid
    folder, records, start, root = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    sys.path.insert(0, root)
    from handwriting.feedback import FeedbackRecord, open_store
    time.sleep(max(0.0, start - time.time()))
    store = open_store(folder)
    for i in range(records):
        with store.transaction():
            record_id = uuid.uuid4().hex
            store.insert(FeedbackRecord(record_id, "2026-01-01T00:00:00.000000Z", "digits", "t",
                                        "1", 0.5, "7", "api", "x"))
            store.enqueue("sheets", record_id)
    """
)


def run_writers(folder, writers: int, records: int, start: float = 0.0) -> list[int]:
    """`writers` processes each storing `records` feedback records in `folder`, none before time `start`."""
    import conftest

    procs = [subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(folder), str(records), str(start), str(conftest.ROOT)])
             for _ in range(writers)]
    return [p.wait(timeout=120) for p in procs]


def test_two_processes_write_one_store_at_once(tmp_path, backend):
    """Writers in separate processes (SQLite: WAL and the busy timeout; PostgreSQL: a pool each) wait for
    each other, none fails."""
    assert run_writers(tmp_path, writers=3, records=150) == [0, 0, 0]
    assert open_store(tmp_path).count() == 450


@pytest.mark.slow
def test_processes_that_create_the_store_at_the_same_moment_all_open_it(tmp_path):
    """The WAL switch on a new file can fail with "database is locked" without waiting: opening retries."""
    rounds, writers = 5, 6
    for round_ in range(rounds):
        folder = tmp_path / f"round{round_}"
        start = time.time() + 3.0  # after every interpreter has imported the package
        assert run_writers(folder, writers, records=1, start=start) == [0] * writers
        assert open_store(folder).count() == writers


# ---------------------------------------------------------------------------------------------------
# Any remote sink: a destination and a few lines, the outbox and the sender are shared


class Shelf:
    """An in-memory remote end whose first write lands but answers with a timeout."""

    name = place = where = "shelf"

    def __init__(self):
        self.copies: dict[str, int] = {}
        self.fail_next = [TimeoutError("no answer")]

    def connect(self):
        pass

    def landed(self, ids):
        return set(ids) & set(self.copies)

    def send(self, records):
        for record in records:
            self.copies[record.id] = self.copies.get(record.id, 0) + 1
        if self.fail_next:
            raise self.fail_next.pop()

    def describe(self, exc):
        return Failure(str(exc), maybe_applied=True)


class ShelfSink(OutboxSink):
    name, title, place = "shelf", "Shelf", "the shelf"

    def __init__(self, shelf):
        super().__init__(types.SimpleNamespace(batch_size=3, writes_per_minute=60000, timeout_s=0.05,
                                               retry_base_s=0.01, retry_max_s=0.05, idle_poll_s=0.05))
        self.shelf = shelf

    def destination(self):
        return self.shelf


def test_a_new_remote_sink_gets_the_outbox_and_the_senders_care(tmp_path):
    """A write that landed despite an unclear answer is found, not sent again; every record arrives once."""
    shelf = Shelf()
    recorder = FeedbackRecorder(tmp_path, [ShelfSink(shelf)]).start()
    records = [recorder.submit(make_record(np.full((28, 28), i, np.uint8), get_task("digits"), "1", str(i % 10),
                                           confidence=0.5, model_version="v")) for i in range(7)]
    deadline = time.monotonic() + 20
    while recorder.store.waiting("shelf") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert shelf.copies == {r.id: 1 for r in records}
    sender = recorder.sink("shelf").sender
    assert sender.stats["already_there"] >= 1 and sender.stats["failures"] == 1 and sender.state == "ok"
    assert recorder.store.outbox_counts("shelf") == {"waiting": 0, "in_doubt": 0, "parked": 0, "delivered": 7}
    assert recorder.store.records() == sorted(records, key=lambda r: (r.created_at, r.id))
    assert "being copied to the shelf" in recorder.confirmation(records[0])
    recorder.close()


# ---------------------------------------------------------------------------------------------------
# The training file


def test_export_writes_the_training_file(tmp_path, images, capsys):
    rec = FeedbackRecorder(tmp_path / "store")
    sent = []
    for i, (path, label) in enumerate(digits(images)):
        predicted = label if i % 3 else str((int(label) + 4) % 10)
        sent.append(FeedbackDesk(rec).submit(path, "digits", predicted, label, confidence=0.5, model_version="v",
                               source="app" if i % 2 else "api"))

    out = tmp_path / "train.npz"
    assert feedback_cli.main(["export", "--data-dir", str(tmp_path / "store"), "--out", str(out)]) == 0
    assert f"{len(sent)} digits records" in capsys.readouterr().out
    with np.load(out) as raw:
        assert set(raw.files) == {"x", "y", "labels", "task", "ids", "source", "was_correct"}
        assert (raw["x"].dtype, raw["y"].dtype, raw["was_correct"].dtype) == (np.uint8, np.int64, np.bool_)
    data = load_training_file(out)
    order = {r.id: r for r in sent}
    assert data.task == "digits" and data.labels == labels_for("digits")
    assert sorted(data.ids.tolist()) == sorted(order) and data.x.shape == (len(sent), 28, 28)
    for x, y, record_id, source, right in zip(data.x, data.y, data.ids, data.source, data.was_correct):
        record = order[record_id]
        assert np.array_equal(x, np.round(to_model_input(rec.folder / record.original_file) * 255))
        assert data.labels[y] == record.correct and source == record.source and right == record.was_correct

    feedback_cli.main(["export", "--data-dir", str(tmp_path / "store"), "--out", str(out), "--corrections-only"])
    assert set(load_training_file(out).ids) == {r.id for r in sent if not r.was_correct}
    feedback_cli.main(["export", "--data-dir", str(tmp_path / "store"), "--out", str(out), "--task", "letters"])
    assert len(load_training_file(out)) == 0 and load_training_file(out).x.shape == (0, 28, 28)

    assert feedback_cli.main(["status", "--data-dir", str(tmp_path / "store")]) == 0
    assert f"{len(sent)} feedback records" in capsys.readouterr().out


def test_the_training_file_refuses_inconsistent_arrays(tmp_path):
    good = TrainingSet("digits", np.zeros((2, 28, 28), np.uint8), np.array([1, 2]), labels_for("digits"),
                       np.array(["a", "b"]), np.array(["app", "game"]), np.array([True, False]))
    loaded = load_training_file(save_training_file(tmp_path / "ok.npz", good))
    assert loaded.source.tolist() == ["app", "game"] and loaded.y.tolist() == [1, 2]
    with pytest.raises(ValueError, match="uint8"):
        save_training_file(tmp_path / "bad.npz", TrainingSet(**{**vars(good), "x": np.zeros((2, 28, 28))}))
    with pytest.raises(ValueError, match="outside labels"):
        save_training_file(tmp_path / "bad.npz", TrainingSet(**{**vars(good), "y": np.array([1, 11])}))
    none = TrainingSet(**{**vars(good), "y": np.array([1, 10])})  # 10: the person said it is no digit ("?")
    assert load_training_file(save_training_file(tmp_path / "none.npz", none)).y.tolist() == [1, 10]


def test_a_record_said_to_be_no_character_trains_as_the_place_after_the_labels():
    from training.feedback_file import training_set

    pixels = np.zeros((28, 28), np.uint8)
    records = [make_record(pixels, "letters", "v", "?", confidence=0.4, model_version="v"),  # a tick read as v
               make_record(pixels, "letters", "v", "v", confidence=0.9, model_version="v")]
    data = training_set(records, "letters")
    assert data.y.tolist() == [52, labels_for("letters").index("v")] and data.was_correct.tolist() == [False, True]


# ---------------------------------------------------------------------------------------------------
# Through the API of the launched app


def api_store():
    import app

    return app.recorder.store


def test_the_feedback_endpoint_is_documented(client):
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/feedback"]
    assert [p["parameter_name"] for p in info["parameters"]] == ["image", "task", "predicted", "correct"]
    assert info["description"].startswith("Say whether a prediction was right")


def test_feedback_through_the_api(client, images):
    path, label = digits(images)[2]
    text = client.predict(handle_file(path), "digits", "0" if label != "0" else "1", label, api_name="/feedback")
    record = api_store().get(ID.search(text).group(1))
    assert record.source == "api" and record.correct == label and not record.was_correct
    assert text.startswith("Thank you! Stored feedback record")
    text = client.predict(handle_file(path), "digits", label, "?", api_name="/feedback")  # "it is no digit"
    record = api_store().get(ID.search(text).group(1))
    assert (record.predicted, record.correct, record.was_correct) == (label, "?", False)
    assert f"it is no digit (the model said {label})" in text


def test_bad_feedback_through_the_api_stores_nothing_and_the_app_keeps_serving(client, images):
    before = api_store().count()
    good = handle_file(digits(images)[0][0])
    for args, message in [
        ((good, "digits", "3", "Z"), "'Z' is not a label of the digits task"),
        ((good, "digits", "3", "q"), "'q' is not a label of the digits task"),
        ((good, "klingon", "3", "3"), "not in the list of choices"),
        ((None, "digits", "3", "3"), "No image was given"),
        ((handle_file(images["huge.png"]), "digits", "3", "3"), "too large"),
        ((handle_file(images["text.png"]), "digits", "3", "3"), "not an image"),
    ]:
        with pytest.raises(AppError, match=message):
            client.predict(*args, api_name="/feedback")
    with pytest.raises(Exception, match="(?i)too large|exceeds|413|max"):
        client.predict(handle_file(images["too_big_upload.bmp"]), "digits", "3", "3", api_name="/feedback")
    assert api_store().count() == before
    assert ID.search(client.predict(good, "digits", "3", "3", api_name="/feedback"))


def test_16_clients_flag_50_records_each_and_each_is_stored_once(app_url, images):
    """Sixteen HTTP clients at once (bare calls: see rawapi.py), fifty flags each, half corrections."""
    files = [(open(path, "rb").read(), label) for path, label in digits(images)]
    before = {r.id for r in api_store().records()}
    base = app_url.rstrip("/")
    start = threading.Barrier(16)

    def flag_50(n: int) -> list[str]:
        ids = []
        with httpx.Client(timeout=60) as http:
            start.wait()
            for i in range(50):
                data, label = files[(n + i) % len(files)]
                predicted = label if i % 2 else str((int(label) + 1) % 10)
                image = rawapi.upload(http, base, data, f"client{n}_{i}.png")
                text = rawapi.call(http, base, "feedback", image, "digits", predicted, label)
                ids.append(ID.search(text).group(1))
        return ids

    with ThreadPoolExecutor(16) as pool:
        ids = [i for batch in pool.map(flag_50, range(16)) for i in batch]
    assert len(ids) == len(set(ids)) == 800
    stored = [r for r in api_store().records() if r.id not in before]
    assert sorted(r.id for r in stored) == sorted(ids)
    assert sum(not r.was_correct for r in stored) == 400
    db = sqlite3.connect(api_store().path)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM feedback").fetchone() == (len(before) + 800,) * 2
    with pytest.raises(rawapi.CallError, match="'Z' is not a label"):  # errors come back the same way
        with httpx.Client(timeout=60) as http:
            rawapi.call(http, base, "feedback", rawapi.upload(http, base, files[0][0]), "digits", "1", "Z")


def test_lookalike_hint_names_the_twins_of_the_top_answer():
    from ui.recognition import lookalike_hint

    note = lookalike_hint("O", get_task("all"))
    assert "**capital O**" in note and "**lowercase o**" in note and "**digit 0**" in note
    assert "digit 0" not in lookalike_hint("O", get_task("letters"))  # 0 is not a letter
    # named in words, never by glyph alone: the page's font draws I and l alike
    assert lookalike_hint("I", get_task("all")).startswith("**capital I** looks just like **lowercase l** or **digit 1**")
    assert lookalike_hint("A", get_task("letters")) == ""
    assert lookalike_hint("1", get_task("digits")) == ""  # l and I are not digits
