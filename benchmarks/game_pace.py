"""How fast a quick person can score in the Game tab: the real page in headless chromium, drawn at a
person's pace, with the time of every right answer as the server measures it.

    python -m benchmarks.game_pace                 # both profiles, 20 right answers each (about 2 minutes)

A person is modelled from published figures, not guessed per run:

- reading the target and starting to draw: 0.35 s (quickest) or 0.45 s (quick): choice reaction times to
  a shown symbol with a practised answer;
- drawing: 0.33 s (quickest) or 0.45 s (quick) of pen movement per character, however large (movement
  time hardly grows with the size of what is written): the fastest copying rate reported by a writer who
  timed himself at full speed, and the Handwriting Speed Test's younger adults a standard deviation faster
  than their mean (113 + 21 letters a minute);
- 0.08 s (quickest) or 0.10 s (quick) to lift the pen between strokes.

Each digit's strokes are drawn at that pace with the mouse (the shapes tests/test_browser.py draws: 7, 1,
0, 4; other targets are skipped at once and not counted) and judged live, as a player's are. The app runs
in this process so the server's own timing of each answer (target handed out -> drawing arrived) is read
from the game. On a loaded machine the driver draws slower than asked (`drawn_s` against `pen_s`), so the
person's pace is also estimated from its parts: reaction + pen time + pen lifts (the strokes of the ten
digits as usually written) + what the page adds, measured here as the time from the last stroke's mouse-up
to the next target on screen (the stroke's trip, the judging, the answer's trip, the drawing of the page).
Writes benchmarks/results/game_pace.json.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PROFILES = {  # reaction before the first stroke, pen movement per character, pen lift between strokes (s)
    "quickest": (0.35, 0.33, 0.08),
    "quick": (0.45, 0.45, 0.10),
}
RIGHT_ANSWERS = 20
STROKES = {"0": 1, "1": 1, "2": 1, "3": 1, "4": 2, "5": 2, "6": 1, "7": 1, "8": 1, "9": 1}  # as usually written


def timed_draw(page, drawing, seconds: float, lift: float, canvas: str) -> float:
    """Draw the strokes with the mouse in `seconds` of movement (shared by path length) and `lift` between;
    returns how long the drawing really took."""
    rect = page.locator(canvas).bounding_box()
    scale = rect["width"] / 280

    def at(p):
        return rect["x"] + p[0] * scale, rect["y"] + p[1] * scale

    started = time.perf_counter()
    lengths = [sum(math.dist(a, b) for a, b in zip(s, s[1:])) for s in drawing]
    total = sum(lengths)
    for n, (stroke, length) in enumerate(zip(drawing, lengths)):
        if n:
            time.sleep(lift)
        points = [stroke[0]]
        for a, b in zip(stroke, stroke[1:]):
            steps = max(1, math.ceil(math.dist(a, b) / 12))
            points += [(a[0] + (b[0] - a[0]) * i / steps, a[1] + (b[1] - a[1]) * i / steps) for i in range(1, steps + 1)]
        duration = seconds * length / total
        page.mouse.move(*at(points[0]))
        page.mouse.down()
        start = time.perf_counter()
        for i, p in enumerate(points[1:], 1):
            delay = start + duration * i / (len(points) - 1) - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            page.mouse.move(*at(p))
        page.mouse.up()
    return time.perf_counter() - started


def main() -> int:
    from handwriting.config import quiet_third_parties

    quiet_third_parties()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HANDWRITING_STORE_DIR"] = tempfile.mkdtemp(prefix="game-pace-")
    from playwright import sync_api

    import app
    from benchmarks.measure import save_result
    from handwriting.game import rounds
    from test_browser import CHROMIUM, CHROMIUM_ARGS, DRAWN

    answers = []  # (right, seconds, unscored) of every judged drawing, as the server timed it
    record = rounds.Game._record

    def recording(self, rnd, attempt, x):
        record(self, rnd, attempt, x)
        answers.append((attempt.right, attempt.seconds, attempt.unscored))

    rounds.Game._record = recording
    shapes = {digit: drawing for digit, drawing, _ in DRAWN}
    port = test_browser_port()
    app.demo.queue(default_concurrency_limit=app.PREDICT_CONCURRENCY).launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    result = {"profiles": {}}
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for name, (reaction, pen, lift) in PROFILES.items():
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(20_000)
                page.goto(f"http://127.0.0.1:{port}/")
                page.get_by_role("tab", name="Game").click()
                page.get_by_label("90 s").check()
                page.click("#game-start")
                page.locator("#game-target-char").wait_for()
                answers.clear()
                rights, times, client_side, drawn_s = 0, dict.fromkeys(shapes, 0), [], []
                while rights < RIGHT_ANSWERS:
                    target = page.locator("#game-target-char").inner_text().strip()
                    if target not in shapes:
                        page.click("#game-skip")
                    else:
                        time.sleep(reaction)
                        times[target] += 1
                        slant = 0.06 * (times[target] - 4)  # never the same picture twice in a round
                        drawing = [[(x + slant * (140 - y), y) for x, y in s] for s in shapes[target]]
                        drawn_s.append(timed_draw(page, drawing, pen, lift, "#game-sketch canvas"))
                        up = time.perf_counter()
                    try:
                        page.wait_for_function("([sel, before]) => (document.querySelector(sel)?.textContent.trim()"
                                               " || before) !== before", arg=["#game-target-char", target], timeout=3000)
                    except sync_api.TimeoutError:  # not recognised live: Submit, as a player would
                        page.click("#game-submit")
                        page.wait_for_function("([sel, before]) => (document.querySelector(sel)?.textContent.trim()"
                                               " || before) !== before", arg=["#game-target-char", target])
                        continue
                    if target in shapes:
                        client_side.append(time.perf_counter() - up)
                        rights += 1
                page.click("#game-end")
                page.close()
                scored = [s for right, s, unscored in answers if right and not unscored]
                mean = statistics.fmean(scored)
                page_s = statistics.median(client_side)
                person = [reaction + pen + lift * (n - 1) + page_s for n in STROKES.values()]
                result["profiles"][name] = {
                    "reaction_s": reaction, "pen_s_per_character": pen, "pen_lift_s": lift,
                    "estimated_s_per_answer": round(statistics.fmean(person), 3),
                    "page_last_stroke_to_next_target_ms_p50": round(1000 * page_s, 1),
                    "driver_drawn_s_mean": round(statistics.fmean(drawn_s), 3),
                    "driven_scoring_answers": len(scored), "driven_wrong": sum(not r for r, _, _ in answers),
                    "driven_mean_s": round(mean, 3), "driven_min_s": round(min(scored), 3),
                    "driven_max_s": round(max(scored), 3), "driven_cv": round(statistics.pstdev(scored) / mean, 3),
                    "driven_seconds": [round(s, 3) for s in scored],
                }
                print(name, {k: v for k, v in result["profiles"][name].items() if k != "driven_seconds"}, flush=True)
            browser.close()
    finally:
        app.demo.close()
    save_result(result, ROOT / "benchmarks" / "results" / "game_pace.json")
    return 0


def test_browser_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
