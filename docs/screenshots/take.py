"""Screenshots of each tab at 1280x900 and 390x844 (touch), each with something drawn and answered.

    python app.py &                                     # or any running copy of the page
    python docs/screenshots/take.py http://127.0.0.1:7860/

Headless Debian chromium through Playwright, as the browser tests; writes <tab>-<width>.png beside this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright import sync_api

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from page_driving import CHROMIUM, CHROMIUM_ARGS, stroke_on  # noqa: E402

HERE = Path(__file__).resolve().parent
SEVEN = [[(0.25, 0.2), (0.75, 0.18), (0.55, 0.5), (0.4, 0.85)]]  # strokes in fractions of the pad
L = [[(0.35, 0.15), (0.35, 0.85), (0.75, 0.85)]]
NUMBER = [[(0.08, 0.25), (0.2, 0.25), (0.13, 0.75)], [(0.33, 0.2), (0.31, 0.8)],
          [(0.55, 0.2), (0.47, 0.5), (0.62, 0.5)], [(0.58, 0.25), (0.58, 0.8)]]
SIZES = {"desktop": dict(viewport={"width": 1280, "height": 900}),
         "phone": dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2)}


def main(url: str) -> None:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for size, options in SIZES.items():
            context = browser.new_context(**options)
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.goto(url)
            touch = size == "phone"
            for tab, pad, strokes, answer in [("Digits", "#digits-sketch", SEVEN, "#digits-label [data-testid='label-output-value']"),
                                              ("Letters", "#letters-sketch", L, "#letters-label [data-testid='label-output-value']"),
                                              ("Read", "#read-sketch", NUMBER, "#read-text .read-text"),
                                              ("Game", "#game-sketch", None, None)]:
                page.get_by_role("tab", name=tab, exact=True).click()
                if strokes:
                    page.locator(f"{pad} canvas").wait_for()
                    stroke_on(page, f"{pad} canvas", strokes, touch=touch)
                    page.locator(answer).wait_for()
                else:
                    page.click("#game-start")
                    page.locator("#game-target-char").wait_for()
                page.wait_for_timeout(400)
                page.evaluate("() => window.scrollTo(0, 0)")
                page.screenshot(path=str(HERE / f"{tab.lower()}-{options['viewport']['width']}.png"))
                if tab == "Game":
                    page.click("#game-end")
            context.close()
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/")
