"""Strokes on a page's drawing pad as a person makes them: the mouse on a desktop, a finger (CDP touch
events) on a phone view. Shared by the page-state browser tests and docs/screenshots/take.py."""

from __future__ import annotations

import math

from test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (re-exported for the screenshot script)

Stroke = list[tuple[float, float]]


def stroke_on(page, canvas: str, strokes: list[Stroke], touch: bool = False, step_px: float = 8.0,
              pixels: tuple[int, int] | None = None) -> None:
    """Draw `strokes` on `canvas`: points in fractions of its box, or in its drawing pixels given `pixels`
    (its width and height). Mouse down, small moves, up; or touchStart, touchMove, touchEnd with `touch`."""
    box = page.locator(canvas).bounding_box()
    sx, sy = (box["width"], box["height"]) if pixels is None else (box["width"] / pixels[0], box["height"] / pixels[1])
    cdp = page.context.new_cdp_session(page) if touch else None

    def press(kind: str, x: float | None = None, y: float | None = None) -> None:
        if touch:
            points = [] if kind == "up" else [{"x": x, "y": y}]
            cdp.send("Input.dispatchTouchEvent",
                     {"type": {"down": "touchStart", "move": "touchMove", "up": "touchEnd"}[kind], "touchPoints": points})
        elif kind == "down":
            page.mouse.move(x, y)
            page.mouse.down()
        elif kind == "move":
            page.mouse.move(x, y)
        else:
            page.mouse.up()

    for stroke in strokes:
        points = [(box["x"] + x * sx, box["y"] + y * sy) for x, y in stroke]
        press("down", *points[0])
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step_px))
            for i in range(1, n + 1):
                press("move", x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n)
        press("up")
    if cdp is not None:
        cdp.detach()
