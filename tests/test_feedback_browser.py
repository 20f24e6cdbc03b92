""""Is this correct?" in a real browser: draw, predict, answer Yes, or No then pick the right label and Send.

Reuses the browser, page and drawing helpers of test_browser.py (headless Debian chromium via Playwright;
it fails, never skips, without them). What the page confirms is checked against the app's store.
"""

from __future__ import annotations

import pytest

import re

from test_browser import (  # noqa: F401  (browser and page are fixtures)
    LABEL,
    PREDICT_DRAW,
    UPLOAD_INPUT,
    wait_for_new_label,
    assert_prediction,
    browser,
    clear_canvas,
    draw,
    one,
    page,
    seven,
)

YES, NO = "#digits-feedback-yes", "#digits-feedback-no"
CHOICE, SEND, STATUS = "#digits-feedback-label", "#digits-feedback-send", "#digits-feedback-status"
ID = re.compile(r"record ([0-9a-f]{32})")

pytestmark = pytest.mark.browser


def stored(page):
    """The record the status line names, from the app's store."""
    import app

    page.wait_for_function(
        "sel => /Stored feedback record/.test(document.querySelector(sel)?.textContent || '')", arg=STATUS
    )
    return app.recorder.store.get(ID.search(page.locator(STATUS).inner_text()).group(1))


def test_yes_confirms_and_no_stores_the_label_picked(page):
    assert not page.locator(YES).is_visible()  # nothing to answer before a prediction
    draw(page, seven(70, 55, 140, 175))
    assert_prediction(page, PREDICT_DRAW, "7", "a drawn 7")
    page.click(YES)
    record = stored(page)
    assert (record.predicted, record.correct, record.was_correct, record.source) == ("7", "7", True, "app")
    assert "the model was right" in page.locator(STATUS).inner_text()
    assert not page.locator(YES).is_visible()  # answered: the buttons go until the next prediction

    clear_canvas(page)
    draw(page, one(150, 45, 190))
    assert_prediction(page, PREDICT_DRAW, "1", "a drawn 1")
    page.locator(YES).wait_for()  # a new prediction brings the buttons back, and clears the last answer
    page.wait_for_function("sel => document.querySelector(sel).textContent.trim() === ''", arg=STATUS)
    assert not page.locator(SEND).is_visible()
    page.click(NO)
    page.click(SEND)  # nothing chosen yet: said in the status line, and the list stays usable
    page.wait_for_function("sel => /Choose the right answer/.test(document.querySelector(sel).textContent)", arg=STATUS)
    page.locator(f"{CHOICE} input").click()
    options = page.locator("[role='option']")
    assert options.all_inner_texts() == [str(d) for d in range(10)] + ["? (not a digit)"]  # the task's labels, or none
    options.filter(has_text="4").click()
    page.click(SEND)
    record = stored(page)
    assert (record.predicted, record.correct, record.was_correct) == ("1", "4", False)
    assert "the right answer is 4" in page.locator(STATUS).inner_text()


def star(cx: float, cy: float, r: float) -> list:
    """A five-pointed star in one stroke, as a person doodles it (no digit's shape)."""
    import math

    return [[(cx + r * math.sin(4 * math.pi * i / 5), cy - r * math.cos(4 * math.pi * i / 5)) for i in range(6)]]


def test_a_picture_that_is_no_digit_is_kept_when_confirmed_or_said(page):
    """A doodle answered "?" and confirmed with Yes, and a 7 said to be no digit: both are kept as "?", the
    pictures a "?" head learns from."""
    draw(page, star(140, 140, 90))
    page.click(PREDICT_DRAW)
    assert wait_for_new_label(page, "") == "?"
    page.click(YES)
    record = stored(page)
    assert (record.predicted, record.correct, record.was_correct) == ("?", "?", True)
    assert "the model was right, it is no digit" in page.locator(STATUS).inner_text()

    clear_canvas(page)
    draw(page, seven(70, 55, 140, 175))
    assert_prediction(page, PREDICT_DRAW, "7", "a drawn 7")
    page.click(NO)
    page.locator(f"{CHOICE} input").click()
    page.locator("[role='option']").filter(has_text="not a digit").click()
    page.click(SEND)
    record = stored(page)
    assert (record.predicted, record.correct, record.was_correct) == ("7", "?", False)
    assert "it is no digit (the model said 7)" in page.locator(STATUS).inner_text()


def test_an_error_takes_the_question_away(page, tmp_path, mnist_samples):
    """Upload a 7, then a blank picture: the error clears the 7's prediction, so no Yes can store
    "the model was right, it is 7" for a picture that is no longer on screen."""
    import numpy as np
    from PIL import Image

    x, y = mnist_samples
    seven_png, blank_png = tmp_path / "seven.png", tmp_path / "blank.png"
    Image.fromarray(255 - x[list(y).index(7)]).resize((196, 196)).save(seven_png)
    Image.fromarray(np.full((196, 196), 255, np.uint8)).save(blank_png)
    page.get_by_role("tab", name="Upload").click()
    page.set_input_files(UPLOAD_INPUT, str(seven_png))
    assert wait_for_new_label(page, "") == "7"
    page.locator(YES).wait_for()
    page.set_input_files(UPLOAD_INPUT, str(blank_png))
    page.wait_for_function("sel => /Not recognised/.test(document.querySelector(sel)?.textContent || '')", arg=STATUS)
    assert not page.locator(YES).is_visible() and "7" not in page.locator(LABEL).inner_text()
