"""The feedback sinks as real Gradio flagging callbacks, and what storing a record costs the store."""

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
from handwriting.feedback import InvalidFeedbackError, make_record
from handwriting.feedback.flagging import FeedbackRecorder, LocalFeedbackLogger
from handwriting.preprocessing import to_model_input

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


def test_the_local_logger_plugs_into_a_gradio_interface(tmp_path, seven_upload):
    """gr.Interface calls `setup` with its components and folder, and its "It was 1" button calls `flag`
    with the raw input and output values (a file's path, the Label's value) and the option chosen."""
    logger = LocalFeedbackLogger(task="digits", model_version="interface-1")
    demo = interface_with(logger, tmp_path)
    assert logger.store is not None and logger.store.folder == tmp_path
    it_was_1 = next(f.fn for f in demo.fns.values() if isinstance(f.fn, FlagMethod) and f.fn.value == "1")
    it_was_1(types.SimpleNamespace(username=None), {"path": seven_upload, "meta": {"_type": "gradio.FileData"}}, LABEL)

    [record] = logger.store.records()
    assert (record.predicted, record.correct, record.model_version, record.source) == ("7", "1", "interface-1", "app")
    assert record.confidence == pytest.approx(0.875)
    assert np.array_equal(record.pixels(), np.round(to_model_input(seven_upload) * 255).astype(np.uint8))


def test_an_interface_flag_of_a_file_outside_the_upload_cache_is_refused(tmp_path, seven_upload):
    logger = LocalFeedbackLogger()
    interface_with(logger, tmp_path)
    outside = shutil.copy(seven_upload, tmp_path / "not-an-upload.png")
    with pytest.raises(InvalidFeedbackError, match="not an upload"):
        logger.flag([{"path": str(outside)}, LABEL], flag_option="1")
    with pytest.raises(InvalidFeedbackError, match="flagging_options must name"):
        logger.flag([{"path": seven_upload}, LABEL], flag_option="Z")
    assert logger.store.records() == []


def test_storing_a_record_counts_nothing_under_the_write_lock(tmp_path):
    """Each flag once ran a COUNT(*) of the whole table inside the write transaction, for a number
    nobody read: the statements of a store are only the insert and, for the sheet, the outbox entry."""
    recorder = FeedbackRecorder(tmp_path).start()
    statements = []
    recorder.store._connection().set_trace_callback(statements.append)
    record = make_record(np.eye(28, dtype=np.float32), "digits", "1", "7", confidence=0.5, model_version="v")
    assert recorder.submit(record) == record
    assert not [s for s in statements if "COUNT(" in s.upper()]
    assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "COMMIT"]
    recorder.close()
