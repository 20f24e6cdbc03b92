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
from handwriting.game.rules import MIN_ANSWER_S
from test_browser import DRAWN, TOAST, browser, page  # noqa: F401  (browser and page are fixtures)

SKETCH = "#game-sketch"
DRAWINGS = {digit: drawing for digit, drawing, _ in DRAWN}  # the digits test_browser draws reliably
TARGET, SCORE, CLOCK = "#game-target-char", "#game-score", "#game-clock"
RIGHT_ANSWERS = 5  # right answers to play before ending the round
MAX_TARGETS = 60  # targets to go through at most (each is drawable with probability 4/10)

pytestmark = pytest.mark.browser


@pytest.fixture
def game_page(page, monkeypatch):
    """The page on the Game tab, with test_browser's drawing helpers aimed at the game's sketchpad."""
    monkeypatch.setattr(test_browser, "CANVAS", f"{SKETCH} canvas")
    page.get_by_role("tab", name="Game").click()
    return page


def slanted(drawing, k: int):
    """The same strokes drawn with a different slant each time (a moved copy would be the same picture
    once the preprocessing has centred it, and a repeated picture scores nothing)."""
    return [[(x + 0.12 * k * (140 - y), y) for x, y in stroke] for stroke in drawing]


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


def test_play_a_round_judged_live_and_get_into_the_high_scores(game_page):
    """Five right answers judged live (draw the target: no button; the next target comes on a cleared pad),
    one wrong drawing submitted with Enter, the others skipped; then the review and the high scores."""
    page = game_page
    name = f"Tester {secrets.token_hex(3)}"
    assert not page.locator("#game-opt-in input").is_checked()  # keeping drawings is opt-in
    page.locator("#game-name input, #game-name textarea").first.fill(name)
    page.get_by_label("90 s").check()
    page.click("#game-start")
    page.locator(TARGET).wait_for()
    clock_start = int(re.search(r"(\d+)", text(page, CLOCK)).group(1))

    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.wait_for_timeout(3000)  # a round on screen, nobody drawing: nothing but the countdown's calls
    idle = list(requests)
    assert not [u for u in idle if "/upload" in u] and len([u for u in idle if "/queue/join" in u]) <= 4, idle

    target, rights, scores, missed = text(page, TARGET), 0, [0], None
    shown, times_drawn = time.monotonic(), {}
    for _ in range(MAX_TARGETS):
        if rights == RIGHT_ANSWERS and missed:
            break
        if target in DRAWINGS and rights < RIGHT_ANSWERS:
            # as a person: a moment to read the target, never the very same strokes twice
            time.sleep(max(0.0, MIN_ANSWER_S + 0.1 - (time.monotonic() - shown)))
            times_drawn[target] = times_drawn.get(target, 0) + 1
            test_browser.draw(page, slanted(DRAWINGS[target], times_drawn[target]))
            target = next_target(page, target)  # judged live: no button pressed
            shown = time.monotonic()
            verdict = text(page, "#game-verdict")
            assert "✓" in verdict, f"the drawn target was not recognised: {verdict!r}"
            assert page.evaluate(f"() => document.querySelector('{SKETCH} canvas').getContext('2d')"
                                 ".getImageData(140, 140, 1, 1).data[0]") == 255  # a clean pad for the next one
            rights += 1
            scores.append(score_of(page))
            assert scores[-1] > scores[-2], f"the score did not go up: {text(page, SCORE)!r}"
        elif not missed and target != "1" and rights:  # a 1 where something else is asked: Submit with Enter
            test_browser.draw(page, slanted(DRAWINGS["1"], -2))
            page.wait_for_timeout(700)  # live judging leaves a wrong drawing alone
            assert text(page, TARGET) == target
            page.keyboard.press("Enter")
            missed, target = target, next_target(page, target)
            shown = time.monotonic()
            assert "✗" in text(page, "#game-verdict")
        else:
            page.click("#game-skip")
            target = next_target(page, target)
            shown = time.monotonic()
    assert rights == RIGHT_ANSWERS and missed, f"only {rights} drawable targets came up"
    assert f"{RIGHT_ANSWERS} right of {RIGHT_ANSWERS + 1} drawn" in text(page, SCORE)
    clock_now = int(re.search(r"(\d+)", text(page, CLOCK)).group(1))
    assert clock_now < clock_start, "the countdown did not move"

    page.click("#game-end")
    report = page.locator("#game-report")
    report.wait_for()
    page.wait_for_function("sel => /Round over/.test(document.querySelector(sel)?.textContent || '')", arg="#game-report")
    assert f"{scores[-1]} points" in report.inner_text()
    review = page.locator("#game-misses figure")  # the miss as the model saw it: crisp, captioned, on screen
    assert review.count() == 1
    picture, caption = review.locator("img").bounding_box(), review.locator("figcaption")
    assert 80 <= picture["width"] <= 90 and picture["height"] == picture["width"]
    assert caption.is_visible() and "saw digit 1" in caption.inner_text()
    table = page.locator("#game-high-scores")
    row = table.locator("tr", has_text=name)
    row.wait_for()
    assert str(scores[-1]) in row.inner_text()
    assert not page.locator("#game-submit").is_visible()  # the round is over: play again from the settings
    assert page.locator("#game-start").is_visible()
