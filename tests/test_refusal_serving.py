""""?" through the serving path: a model folder whose refusal policy refuses is answered "?" by the API, the
page, the game, the reader and the feedback intake; a folder without one never refuses."""

from __future__ import annotations

import json
import re

import gradio as gr
import numpy as np
import pytest

import imagegen
import tiny_models
from handwriting import models, service
from handwriting.feedback import FeedbackRecorder
from handwriting.model_folder import MODELS_DIR
from handwriting.refusal import REFUSED
from handwriting.tasks import get_task


@pytest.fixture
def refusing(tmp_path, monkeypatch):
    """A digits model that refuses every picture it is less than 99% sure of (a tiny model: all of them)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for bundled in ("letters", "all"):
        (folder / bundled).symlink_to(MODELS_DIR / bundled)
    digits = tiny_models.write_folder(folder / "digits", task="digits", outputs=10)
    (digits / "refusal.json").write_text(json.dumps({"format": 1, "none_unit": False, "min_confidence": 0.99}))
    monkeypatch.setenv("HANDWRITING_MODELS_DIR", str(folder))
    models.forget()
    yield digits
    models.forget()


@pytest.fixture
def seven(mnist_samples):
    x, y = mnist_samples
    return imagegen.encode(imagegen.dark_on_white(x[list(y).index(7)]))


def test_a_refused_picture_is_answered_with_the_closest_characters(refusing, seven):
    from ui.recognition import AnswerLabel, predict_image

    prediction = service.predict(seven, "digits")
    assert prediction.label == REFUSED and prediction.refused
    assert len(prediction.top(3)) == 3 and all(label in "0123456789" for label, _ in prediction.top(3))
    assert 0.0 <= prediction.confidence_of(REFUSED) <= 1.0
    shown = AnswerLabel(num_top_classes=3).postprocess(predict_image(seven, "digits"))
    assert shown.label == REFUSED and [c.label for c in shown.confidences] == [label for label, _ in prediction.top(3)]
    assert all(isinstance(p, service.Prediction) and p.label == REFUSED
               for p in service.predict_many([seven, seven], "digits"))


def stored_record(recorder, status: str):
    return recorder.store.get(re.search(r"record ([0-9a-f]{32})", status).group(1))


def test_the_page_says_what_question_mark_means_and_keeps_what_the_person_says_it_was(refusing, seven, tmp_path):
    from ui.recognition import recognition_tab

    recorder = FeedbackRecorder(tmp_path / "store")
    with gr.Blocks():
        page = recognition_tab(get_task("digits"), service.FeedbackDesk(recorder), concurrency_limit=2)
    out = page.page_answer(seven, "digits")
    assert "This doesn't look like a digit. Closest:" in out[page.view.hint]
    stored = page.correct(out[page.view.last], "7")[page.view.status]  # No -> 7 -> Send
    record = stored_record(recorder, stored)
    assert (record.predicted, record.correct, record.was_correct) == (REFUSED, "7", False)

    out = page.page_answer(seven, "digits")  # drawn again, and this time Yes: it was no digit
    said = page.confirm(out[page.view.last])[page.view.status]
    assert "the model was right, it is no digit" in said
    record = stored_record(recorder, said)
    assert (record.predicted, record.correct, record.was_correct) == (REFUSED, REFUSED, True)
    assert recorder.store.count() == 2
    recorder.close()


def test_a_character_the_person_says_is_none_of_them_is_kept_as_a_question_mark(tmp_path, mnist_samples):
    from ui.recognition import recognition_tab

    recorder = FeedbackRecorder(tmp_path / "store")
    with gr.Blocks():
        page = recognition_tab(get_task("digits"), service.FeedbackDesk(recorder), concurrency_limit=2)
    x, y = mnist_samples
    out = page.page_answer(255 - x[list(y).index(3)], "digits")
    said = page.correct(out[page.view.last], REFUSED)[page.view.status]  # No -> "? (not a digit)" -> Send
    record = stored_record(recorder, said)
    assert (record.correct, record.was_correct) == (REFUSED, False) and record.predicted != REFUSED
    assert f"it is no digit (the model said {record.predicted})" in said
    recorder.close()


def test_the_game_never_scores_a_question_mark(refusing, seven):
    from handwriting.game import Game

    game = Game(None)
    state = game.start("digits", 30)
    drawing = {"background": None, "layers": [], "composite": seven}
    assert game.submit(state["round_id"], drawing, live=True)["verdict"] is None  # judged live: nothing happens
    verdict = game.submit(state["round_id"], drawing)["verdict"]
    assert verdict["predicted"] == REFUSED and not verdict["right"] and game.status(state["round_id"])["score"] == 0


def test_the_reader_marks_a_question_mark_unsure(refusing, mnist_samples):
    x, y = mnist_samples
    line = np.hstack([imagegen.dark_on_white(x[list(y).index(d)], 100) for d in (2, 0)])
    reading = service.read(line, "digits")
    assert reading.text == REFUSED * len(reading.characters) and all(c.unsure for c in reading.characters)
    assert all(len(c.top3) == 3 and c.top3[0][0] in "0123456789" for c in reading.characters)


def test_a_folder_without_a_policy_never_refuses(tmp_path, monkeypatch, seven):
    folder = tmp_path / "models"
    tiny_models.write_folder(folder / "digits", task="digits", outputs=10)
    monkeypatch.setenv("HANDWRITING_MODELS_DIR", str(folder))
    models.forget()
    try:
        assert service.predict(seven, "digits").label in "0123456789"
    finally:
        models.forget()


def test_a_character_in_a_line_is_judged_by_the_policys_line_thresholds(refusing, mnist_samples, seven):
    """One "?" spoils a whole number, and a piece between characters is likelier one: refusal.json's
    `in_a_line` thresholds decide for the reader; a lone picture keeps the folder's own."""
    policy = json.loads((refusing / "refusal.json").read_text())
    (refusing / "refusal.json").write_text(json.dumps({**policy, "in_a_line": {"min_confidence": 0.0}}))
    models.forget()
    x, y = mnist_samples
    line = np.hstack([imagegen.dark_on_white(x[list(y).index(d)], 100) for d in (2, 0)])
    reading = service.read(line, "digits")
    assert REFUSED not in reading.text and len(reading.text) == 2
    assert service.predict(seven, "digits").label == REFUSED  # the same model, a lone picture


@pytest.mark.parametrize("line", [[0.5], {"min_confidence": 2.0}, {"none_threshold": "high"}])
def test_damaged_line_thresholds_are_a_one_line_error(tmp_path, line):
    from handwriting.refusal import RefusalPolicy, RefusalPolicyError

    (tmp_path / "refusal.json").write_text(json.dumps({"format": 1, "none_unit": True, "none_threshold": 0.9,
                                                       "in_a_line": line}))
    with pytest.raises(RefusalPolicyError, match="in_a_line"):
        RefusalPolicy.load(tmp_path)
