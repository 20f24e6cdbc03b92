"""The Letters tab in a real browser: capitals drawn with mouse strokes, for letters and all characters.

Reuses the browser, page and drawing helpers of test_browser.py (headless Debian chromium via Playwright;
it fails, never skips, without them), pointed at the Letters tab's sketchpad and label.
"""

from __future__ import annotations

import pytest

import test_browser
from test_browser import browser, page  # noqa: F401  (fixtures)

SKETCH, LABEL = "#letters-sketch", "#letters-label"
LETTERS = [  # (letter, strokes in canvas pixels): clear capitals, consecutive ones differ
    ("L", [[(95, 40), (95, 240), (205, 240)]]),
    ("T", [[(50, 45), (230, 45)], [(140, 45), (140, 245)]]),
    ("H", [[(70, 40), (70, 240)], [(210, 40), (210, 240)], [(70, 140), (210, 140)]]),
]

pytestmark = pytest.mark.browser


@pytest.fixture
def letters_page(page, monkeypatch):
    """The page on the Letters tab, with test_browser's helpers aimed at its sketchpad and label."""
    monkeypatch.setattr(test_browser, "CANVAS", f"{SKETCH} canvas")
    monkeypatch.setattr(test_browser, "CLEAR", f"{SKETCH} button[aria-label='Clear canvas']")
    monkeypatch.setattr(test_browser, "LABEL", LABEL)
    monkeypatch.setattr(test_browser, "TOP_CLASS", f"{LABEL} [data-testid='label-output-value']")
    page.get_by_role("tab", name="Letters").click()
    page.locator(test_browser.CANVAS).wait_for()
    return page


def top_three(page) -> list[str]:
    """The characters the Label lists (top class and the confidence rows)."""
    lines = [line.strip() for line in page.locator(LABEL).inner_text().splitlines()]
    return [line for line in lines if len(line) == 1]


@pytest.mark.parametrize("task_choice", ["Letters (A-Z, a-z)", "All characters (0-9, A-Z, a-z)"])
def test_drawn_capitals_are_recognised(letters_page, task_choice):
    page = letters_page
    page.get_by_label(task_choice).check()
    for i, (letter, strokes) in enumerate(LETTERS):
        if i:
            test_browser.clear_canvas(page)
        test_browser.draw(page, strokes)  # recognised live, after the last stroke
        try:
            page.wait_for_function("([sel, want]) => (document.querySelector(sel)?.innerText || '').split('\\n')"
                                   ".map(s => s.trim()).includes(want)", arg=[LABEL, letter], timeout=20_000)
        except test_browser.sync_api.TimeoutError:
            pass
        assert letter in top_three(page), f"{task_choice}: drew {letter}, the page shows {page.locator(LABEL).inner_text()!r}"
