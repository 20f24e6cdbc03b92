"""The feedback sinks behind a real Gradio flagging callback, and what storing a record costs the store."""

from __future__ import annotations

import shutil
import types
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio.flagging import FlagMethod
from gradio.utils import get_upload_folder

import imagegen
from handwriting.config import SheetsSettings
from handwriting.feedback import FeedbackRecorder, InvalidFeedbackError, LocalSink, make_record
from handwriting.feedback.sheets import SINK, SheetsSink
from handwriting.preprocessing import to_model_input
from handwriting.tasks import get_task
from ui.flagging import FeedbackFlagger

LABEL = {"label": "7", "confidences": [{"label": "7", "confidence": 0.875}, {"label": "1", "confidence": 0.1},
                                       {"label": "9", "confidence": 0.025}]}


@pytest.fixture
def seven_upload(mnist_samples):
    """A digit 7 as a PNG in Gradio's upload cache, where an Interface's uploads land."""
    x, y = mnist_samples
    folder = Path(get_upload_folder()) / "flagging-test"
    folder.mkdir(parents=True, exist_ok=True)
    seven = imagegen.encode(imagegen.dark_on_white(x[list(y).index(7)], 96))
    yield imagegen.write_files(folder, {"seven.png": seven})["seven.png"]
    shutil.rmtree(folder, ignore_errors=True)


def interface_with(logger, tmp_path) -> gr.Interface:
    return gr.Interface(lambda image: {"7": 0.875, "1": 0.1, "9": 0.025}, gr.Image(type="filepath"),
                        gr.Label(num_top_classes=3), flagging_mode="manual", flagging_callback=logger,
                        flagging_options=[(f"It was {d}", d) for d in "0123456789"], flagging_dir=str(tmp_path))


def click_it_was(demo: gr.Interface, label: str, path: str) -> None:
    """What the Interface's "It was <label>" button runs: the raw input and output values (a file's path,
    the Label's value) and the option chosen."""
    button = next(f.fn for f in demo.fns.values() if isinstance(f.fn, FlagMethod) and f.fn.value == label)
    button(types.SimpleNamespace(username=None), {"path": path, "meta": {"_type": "gradio.FileData"}}, LABEL)


def test_the_flagging_adapter_plugs_into_a_gradio_interface(tmp_path, seven_upload):
    """gr.Interface calls `setup` with its components and folder, and its "It was 1" button calls `flag`."""
    flagger = FeedbackFlagger([LocalSink()], task="digits", model_version="interface-1")
    demo = interface_with(flagger, tmp_path)
    assert flagger.recorder is not None and flagger.recorder.store.folder == tmp_path
    click_it_was(demo, "1", seven_upload)

    [record] = flagger.recorder.store.records()
    assert (record.predicted, record.correct, record.model_version, record.source) == ("7", "1", "interface-1", "app")
    assert record.confidence == pytest.approx(0.875)
    assert np.array_equal(record.pixels(), np.round(to_model_input(seven_upload) * 255).astype(np.uint8))
    flagger.recorder.close()


def test_a_correction_flagged_in_an_interface_is_queued_for_the_google_sheet(tmp_path, seven_upload):
    """The adapter runs the app's sinks: the flag is stored and queued for the sheet in one transaction
    (here with credentials missing, so it waits in the outbox for them)."""
    sheets = SheetsSink(SheetsSettings(key="sheet-key", service_account_file="", service_account_json=""))
    flagger = FeedbackFlagger([LocalSink(), sheets], task=get_task("digits"))
    demo = interface_with(flagger, tmp_path)
    click_it_was(demo, "1", seven_upload)

    [record] = flagger.recorder.store.records()
    assert record.correct == "1" and flagger.recorder.store.outbox_counts(SINK)["waiting"] == 1
    assert [q.record for q in flagger.recorder.store.due(SINK, 10)] == [record]
    assert "not set up correctly" in flagger.recorder.confirmation(record)
    flagger.recorder.close()


def test_an_interface_flag_of_a_file_outside_the_upload_cache_is_refused(tmp_path, seven_upload):
    flagger = FeedbackFlagger([LocalSink()])
    interface_with(flagger, tmp_path)
    outside = shutil.copy(seven_upload, tmp_path / "not-an-upload.png")
    with pytest.raises(InvalidFeedbackError, match="not an upload"):
        flagger.flag([{"path": str(outside)}, LABEL], flag_option="1")
    with pytest.raises(InvalidFeedbackError, match="flagging_options must name"):
        flagger.flag([{"path": seven_upload}, LABEL], flag_option="Z")
    assert flagger.recorder.store.records() == []


def test_storing_a_record_counts_nothing_under_the_write_lock(tmp_path):
    """Each flag once ran a COUNT(*) of the whole table inside the write transaction, for a number
    nobody read: the statements of a store are only the insert and, for the sheet, the outbox entry."""
    recorder = FeedbackRecorder(tmp_path).start()
    statements = []
    recorder.store._connection().set_trace_callback(statements.append)
    record = make_record(np.eye(28, dtype=np.float32), get_task("digits"), "1", "7", confidence=0.5, model_version="v")
    assert recorder.submit(record) == record
    assert not [s for s in statements if "COUNT(" in s.upper()]
    assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "COMMIT"]
    recorder.close()
