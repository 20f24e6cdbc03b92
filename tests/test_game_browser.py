"""The Game tab in a real browser: play a short round of digits, drawing the targets shown, then see the score.

Reuses the browser, page and drawing helpers of test_browser.py (headless Debian chromium via Playwright;
it fails, never skips, without them), pointed at the game's sketchpad. Targets the helpers draw reliably
(7, 1, 0, 4) are drawn; the others are skipped, as a player may.
"""

from __future__ import annotations

import re
import secrets
import time

import pytest

import test_browser
from handwriting.game import MIN_ANSWER_S
from test_browser import DRAWN, TOAST, browser, page  # noqa: F401  (browser and page are fixtures)

SKETCH = "#game-sketch"
DRAWINGS = {digit: drawing for digit, drawing, _ in DRAWN}  # the digits test_browser draws reliably
TARGET, SCORE, CLOCK = "#game-target-char", "#game-score", "#game-clock"
RIGHT_ANSWERS = 2  # right answers to play before ending the round
MAX_TARGETS = 40  # targets to go through at most (each is drawable with probability 4/10)


@pytest.fixture
def game_page(page, monkeypatch):
    """The page on the Game tab, with test_browser's drawing helpers aimed at the game's sketchpad."""
    monkeypatch.setattr(test_browser, "CANVAS", f"{SKETCH} .pixi-target canvas")
    monkeypatch.setattr(test_browser, "BRUSH_READY", f"{SKETCH} button[aria-label='Brush'].highlight")
    monkeypatch.setattr(test_browser, "ZOOM", f"{SKETCH} .zoom-number span")
    page.get_by_role("tab", name="Game").click()
    return page


def shifted(drawing, dx: float):
    """The same strokes drawn a little further right."""
    return [[(x + dx, y) for x, y in stroke] for stroke in drawing]


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def score_of(page) -> int:
    return int(re.search(r"Score (\d+)", text(page, SCORE)).group(1))


def next_target(page, before: str) -> str:
    """Wait for the target to change (each answer brings a new one, never the same twice); fail on an error toast."""
    page.wait_for_function(
        """([sel, toast, before]) => document.querySelector(toast) !== null
             || (document.querySelector(sel)?.textContent.trim() || before) !== before""",
        arg=[TARGET, TOAST, before],
    )
    if page.locator(TOAST).count():
        pytest.fail(f"the app showed an error: {page.locator(TOAST).first.inner_text()!r}")
    return text(page, TARGET)


def test_play_a_short_round_and_get_into_the_high_scores(game_page):
    page = game_page
    name = f"Tester {secrets.token_hex(3)}"
    assert not page.locator("#game-opt-in input").is_checked()  # keeping drawings is opt-in
    page.locator("#game-name input, #game-name textarea").first.fill(name)
    page.get_by_label("90 s").check()
    page.click("#game-start")
    page.locator(TARGET).wait_for()
    clock_start = int(re.search(r"(\d+)", text(page, CLOCK)).group(1))

    target, rights, scores, drawn_with_enter = text(page, TARGET), 0, [0], False
    shown, times_drawn = time.monotonic(), {}
    for _ in range(MAX_TARGETS):
        if rights == RIGHT_ANSWERS:
            break
        if target in DRAWINGS:
            # as a person: never the very same strokes twice (a resent image scores nothing), and no
            # faster than a person reads and draws (the game's floor)
            times_drawn[target] = times_drawn.get(target, 0) + 1
            test_browser.draw(page, shifted(DRAWINGS[target], 6 * times_drawn[target]))
            time.sleep(max(0.0, MIN_ANSWER_S + 0.1 - (time.monotonic() - shown)))
            if not drawn_with_enter:  # the keyboard shortcut once, the button after
                page.keyboard.press("Enter")
                drawn_with_enter = True
            else:
                page.click("#game-submit")
            target = next_target(page, target)
            shown = time.monotonic()
            verdict = text(page, "#game-verdict")
            assert verdict.startswith("✓"), f"the drawn target was not recognised: {verdict!r}"
            rights += 1
            scores.append(score_of(page))
            assert scores[-1] > scores[-2], f"the score did not go up: {text(page, SCORE)!r}"
        else:
            page.click("#game-skip")
            target = next_target(page, target)
            shown = time.monotonic()
    assert rights == RIGHT_ANSWERS, f"only {rights} drawable targets came up"
    assert f"{RIGHT_ANSWERS} right of {RIGHT_ANSWERS} drawn" in text(page, SCORE)
    clock_now = int(re.search(r"(\d+)", text(page, CLOCK)).group(1))
    assert clock_now < clock_start, "the countdown did not move"

    page.click("#game-end")
    report = page.locator("#game-report")
    report.wait_for()
    page.wait_for_function("sel => /Round over/.test(document.querySelector(sel)?.textContent || '')", arg="#game-report")
    assert f"{scores[-1]} points" in report.inner_text() and "every drawing right" in report.inner_text()
    table = page.locator("#game-high-scores")
    row = table.locator("tr", has_text=name)
    row.wait_for()
    assert str(scores[-1]) in row.inner_text()
    assert not page.locator("#game-submit").is_visible()  # the round is over: play again from the settings
    assert page.locator("#game-start").is_visible()
