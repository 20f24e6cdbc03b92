"""`/read`, `/read_sketch` and feedback on a read, from gradio_client against the launched app."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image, ImageDraw

from test_reading import clear_digits, compose, number  # noqa: F401  (clear_digits: a fixture)

ID = re.compile(r"record ([0-9a-f]{32})")


def overlap(a, b) -> float:
    """Intersection over union of two [x0, y0, x1, y1] boxes."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


@pytest.fixture(scope="module")
def line_2026(tmp_path_factory, clear_digits):  # noqa: F811
    """ "2026" written as four fixture digits on a white line, and where each digit is."""
    image, boxes = compose(number(clear_digits, "2026", np.random.default_rng(5)), [25, 30, 20])
    path = tmp_path_factory.mktemp("read") / "2026.png"
    Image.fromarray(image).save(path)
    return str(path), boxes


def store():
    import app

    return app.recorder.store


def test_read_is_documented(client):
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in info["/read"]["parameters"]] == ["image", "task"]
    assert [p["parameter_name"] for p in info["/read_sketch"]["parameters"]] == ["sketch", "task"]
    assert info["/read"]["description"].startswith("Read a whole number or word")


def test_a_number_is_read_with_each_character_boxed_in_the_inputs_pixels(client, line_2026):
    path, truth = line_2026
    out = client.predict(handle_file(path), "digits", api_name="/read")
    assert out["text"] == "2026"
    assert [c["label"] for c in out["characters"]] == list("2026")
    for character, box in zip(out["characters"], truth):
        assert overlap(character["box"], box) > 0.5, (character["box"], box)
        assert 0 <= character["confidence"] <= 1 and isinstance(character["unsure"], bool)
        assert [t["label"] for t in character["top3"]][0] == character["label"] and len(character["top3"]) == 3
    sketch = {"background": None, "layers": [], "composite": handle_file(path)}
    assert client.predict(sketch, "digits", api_name="/read_sketch") == out  # the same reading either way


def test_bad_pictures_get_clear_errors_and_the_app_keeps_reading(client, tmp_path, line_2026):
    blank = tmp_path / "blank.png"
    Image.new("L", (840, 280), 255).save(blank)
    dot = Image.new("L", (840, 280), 255)
    ImageDraw.Draw(dot).ellipse((400, 130, 424, 154), fill=0)  # one tap of the pad's 24-pixel pen
    dot.save(tmp_path / "dot.png")
    Image.new("L", (20_000, 40), 255).save(tmp_path / "strip.png")
    (tmp_path / "text.png").write_text("not a picture\n")
    for name, message in [("blank.png", "blank"), ("dot.png", "dot"), ("strip.png", "(?i)wide"),
                          ("text.png", "not an image")]:
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(str(tmp_path / name)), "digits", api_name="/read")
    with pytest.raises(AppError, match="canvas is empty"):
        client.predict({"background": None, "layers": [], "composite": None}, "digits", api_name="/read_sketch")
    assert client.predict(handle_file(line_2026[0]), "digits", api_name="/read")["text"] == "2026"


def test_feedback_on_a_read_is_stored_per_character_with_its_box(client, line_2026):
    path, truth = line_2026
    text = client.predict(handle_file(path), "digits", "2026", "2028", api_name="/feedback")
    [read] = store().reads(ID.search(text).group(1))
    assert (read.predicted, read.correct, read.matched, read.source) == ("2026", "2028", True, "api")
    boxes, ids = json.loads(read.boxes), json.loads(read.record_ids)
    assert len(boxes) == len(ids) == 4 and all(overlap(b, t) > 0.5 for b, t in zip(boxes, truth))
    records = [store().get(i) for i in ids]
    assert [(r.predicted, r.correct) for r in records] == list(zip("2026", "2028"))
    assert all(r.pixels().shape == (28, 28) and r.original_file == read.original_file != "" for r in records)
    assert "stored character by character" in text


def test_a_correction_of_another_length_is_kept_whole_and_marked_unmatched(client, line_2026):
    path, _ = line_2026
    text = client.predict(handle_file(path), "digits", "2026", "20261", api_name="/feedback")
    [read] = store().reads(ID.search(text).group(1))
    assert (read.matched, json.loads(read.record_ids), read.correct) == (False, [], "20261")
    assert read.original_file and "kept whole" in text
    with pytest.raises(AppError, match="reads as '2026', not '1234'"):
        client.predict(handle_file(path), "digits", "1234", "1235", api_name="/feedback")
    with pytest.raises(AppError, match="not labels of the digits task"):
        client.predict(handle_file(path), "digits", "2026", "20 26", api_name="/feedback")


def test_the_read_tab_shows_a_large_photo_reduced_with_its_boxes_and_a_click_finds_the_character(clear_digits):  # noqa: F811
    """Gradio's AnnotatedImage built a full-size mask picture per box (seconds and hundreds of MB for a large
    photo): the tab draws the boxes itself, on the picture reduced by the shared decoding."""
    import gradio as gr

    from handwriting.feedback import FeedbackRecorder
    from handwriting.service import FeedbackDesk
    from handwriting.tasks import get_task
    from ui.reading import DISPLAY_SIDE, clicked, reading_tab

    line, truth = compose(number(clear_digits, "2026", np.random.default_rng(5)), [25, 30, 20], height=400, canvas_h=1000)
    with gr.Blocks():
        page = reading_tab([get_task("digits")], FeedbackDesk(FeedbackRecorder("/nonexistent-store")), concurrency_limit=2)
    out = page.page_answer(line, "digits")
    v, scale = page.view, DISPLAY_SIDE / line.shape[1]
    assert out[v.last].said == "2026" and max(out[v.boxes].size) == DISPLAY_SIDE
    shown = out[v.last].shown_boxes
    assert all(overlap(s, [round(t * scale) for t in box]) > 0.5 for s, box in zip(shown, truth))
    centres = [((x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale) for x0, y0, x1, y1 in truth]
    assert [clicked(shown, x, y) for x, y in centres] == [0, 1, 2, 3]
