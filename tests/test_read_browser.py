"""The Read tab in headless chromium, as a person uses it: write a number on the wide pad (no tool to pick),
see it read after each stroke, click a box for its alternatives, say it was right; clear and write again;
upload a photo of a number; the same on a phone-sized screen."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from test_browser import TIMEOUT_MS, browser, four, one, seven, zero  # noqa: F401  (browser: a fixture)
from test_reading import clear_digits, compose, number  # noqa: F401  (clear_digits: a fixture)
from ui.reading import PAD_WIDTH  # the pad's drawing pixels across

pytestmark = pytest.mark.browser

PAD = "#read-sketch canvas"
CLEAR = "#read-sketch button[aria-label='Clear canvas']"
TEXT = "#read-text .read-text"

# "7104" across the pad: each digit as the character pad's helpers draw it, moved right
NUMBER = [*seven(25, 60, 95, 160), *one(185, 60, 160), *zero(280, 140, 48, 80), *four(370, 60, 110, 160)]


@pytest.fixture
def read_tab(browser, app_url):  # noqa: F811
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(app_url) else route.abort())
    page.goto(app_url)
    page.get_by_role("tab", name="Read").click()
    page.locator(PAD).wait_for()
    yield page
    page.close()


def draw(page, strokes, step_px: float = 20.0) -> None:
    """Mouse down, many small moves, mouse up, stroke by stroke, in the pad's drawing pixels."""
    rect = page.locator(PAD).bounding_box()
    scale = rect["width"] / PAD_WIDTH
    for stroke in strokes:
        points = [(rect["x"] + x * scale, rect["y"] + y * scale) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / (step_px * scale)))
            for i in range(1, n + 1):
                page.mouse.move(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n)
        page.mouse.up()


def wait_for_text(page, expected: str) -> None:
    try:
        page.wait_for_function("([sel, want]) => document.querySelector(sel)?.textContent.trim() === want",
                               arg=[TEXT, expected], timeout=TIMEOUT_MS)
    except Exception:
        shown = page.locator("#read-text").inner_text() + " | " + page.locator("#read-feedback-status").inner_text()
        pytest.fail(f"expected {expected!r}, the page shows {shown!r}")


def test_a_number_written_on_the_pad_is_read_boxed_and_confirmed(read_tab):
    page = read_tab
    draw(page, NUMBER)
    wait_for_text(page, "7104")  # live: no button pressed
    assert page.locator("#read-details tbody tr").count() == 4  # each character with its top 3
    picture = page.locator("#read-boxes img")
    picture.wait_for()
    shown = picture.bounding_box()
    picture.click(position={"x": shown["width"] * 175 / PAD_WIDTH, "y": shown["height"] / 2})  # on the 1
    page.wait_for_function("sel => (document.querySelector(sel)?.textContent || '').includes('Character 2')",
                           arg="#read-alternatives")
    assert "read as **1**" not in page.locator("#read-alternatives").inner_text()  # rendered, not raw markdown
    assert "top 3" in page.locator("#read-alternatives").inner_text()
    picture.click(position={"x": shown["width"] * 70 / PAD_WIDTH, "y": shown["height"] / 2})  # on the 7
    page.wait_for_function("sel => (document.querySelector(sel)?.textContent || '').includes('Character 1')",
                           arg="#read-alternatives")
    assert "top 3" in page.locator("#read-alternatives").inner_text()
    page.click("#read-feedback-yes")
    page.wait_for_function("sel => (document.querySelector(sel)?.textContent || '').includes('Stored feedback')",
                           arg="#read-feedback-status")


def test_clear_then_write_again_and_correct_it(read_tab):
    page = read_tab
    draw(page, [*one(60, 60, 160), *seven(200, 60, 120, 160)])
    wait_for_text(page, "17")
    page.click(CLEAR)
    page.wait_for_function("sel => !(document.querySelector(sel)?.textContent.trim())", arg=TEXT)  # cleared
    draw(page, [*zero(120, 140, 55, 80), *one(300, 60, 160)])
    wait_for_text(page, "01")
    page.click("#read-feedback-no")
    page.fill("#read-feedback-text textarea, #read-feedback-text input", "011")
    page.click("#read-feedback-send")
    page.wait_for_function("sel => (document.querySelector(sel)?.textContent || '').includes('kept whole')",
                           arg="#read-feedback-status")


def test_an_uploaded_number_is_read(read_tab, clear_digits, tmp_path):  # noqa: F811
    page = read_tab
    image, _ = compose(number(clear_digits, "3859", np.random.default_rng(7)), [30, 22, 28])
    Image.fromarray(image).save(tmp_path / "3859.png")
    page.get_by_role("tab", name="Upload").click()
    page.set_input_files("#read-upload input[type=file]", str(tmp_path / "3859.png"))
    wait_for_text(page, "3859")


def test_the_phone_sized_read_tab_fits_and_reads(browser, app_url):  # noqa: F811
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url)
        page.get_by_role("tab", name="Read").click()
        box = page.locator(PAD).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 300  # all of it on screen
        assert box["height"] >= 160  # room for a finger
        draw(page, [*one(60, 60, 160), *seven(200, 60, 120, 160)])
        wait_for_text(page, "17")
    finally:
        page.close()
