"""The page in every state (issue 21), in headless chromium as a person uses it: mouse strokes on a desktop,
finger strokes (CDP touch events) on a 390x844 phone view; only what is visible is read.

- an answer and its "Is this correct?" always belong to the input on screen (Draw / Upload switched);
- another character set answers the same drawing again at once;
- on a phone the pad, the answer and its top 3 (the game's target, pad and Submit) fit the first screen,
  the Read pad is tall enough for a finger, and nothing lies on any drawing surface;
- a round ending mid-stroke ends the stroke cleanly; an empty round says so;
- the Read pad's pen keeps a small letter open; the examples answer in one click.
"""

from __future__ import annotations

import pytest
from PIL import Image

from page_driving import stroke_on
from test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, _clear_mnist_digit  # noqa: F401

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
DESKTOP = dict(viewport={"width": 1280, "height": 900})
# strokes in fractions of a square pad
TWO = [[(0.28, 0.3), (0.4, 0.18), (0.6, 0.17), (0.7, 0.3), (0.62, 0.5), (0.3, 0.8), (0.75, 0.8)]]
SEVEN = [[(0.25, 0.2), (0.75, 0.18), (0.55, 0.5), (0.4, 0.85)]]
L_SHAPE = [[(0.34, 0.14), (0.34, 0.86), (0.75, 0.86)]]
PADS = {"Digits": "#digits-sketch", "Letters": "#letters-sketch", "Read": "#read-sketch", "Game": "#game-sketch"}


@pytest.fixture(scope="module")
def chromium():
    from playwright import sync_api

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def open_page(chromium, app_url, options=DESKTOP, tab: str | None = None):
    context = chromium.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(app_url) else route.abort())
    page.goto(app_url)
    if tab:
        page.get_by_role("tab", name=tab, exact=True).click()
    return page


@pytest.fixture
def desktop(chromium, app_url):
    page = open_page(chromium, app_url)
    yield page
    page.context.close()


@pytest.fixture
def phone(chromium, app_url):
    page = open_page(chromium, app_url, PHONE)
    yield page
    page.context.close()


def start_round(page, length: str | None = None) -> None:
    """Open the Game tab, pick the round's length if given ("30 s"), press Start and wait for the first target."""
    page.get_by_role("tab", name="Game").click()
    if length:
        page.get_by_label(length).check()
    page.click("#game-start")
    page.locator("#game-target-char").wait_for()


def label_text(page, prefix: str) -> str:
    return page.locator(f"#{prefix}-label").inner_text()


def top_class(page, prefix: str) -> str:
    value = page.locator(f"#{prefix}-label [data-testid='label-output-value']")
    return value.inner_text().strip() if value.count() and value.is_visible() else ""


def wait_top(page, prefix: str, want: str) -> None:
    page.wait_for_function("([sel, want]) => document.querySelector(sel)?.textContent.trim() === want",
                           arg=[f"#{prefix}-label [data-testid='label-output-value']", want])


def settle(page) -> None:
    """Let every request in flight come back (the page shows a pending request's outputs as it lands)."""
    page.wait_for_timeout(800)


def ink_at(page, canvas: str, fx: float, fy: float) -> int:
    """The canvas's red value at a point given in fractions of its drawing (0 black ink, 255 white)."""
    return page.evaluate("([sel, fx, fy]) => { const c = document.querySelector(sel);"
                         " return c.getContext('2d').getImageData(Math.floor(fx * c.width), Math.floor(fy * c.height),"
                         " 1, 1).data[0]; }", [canvas, fx, fy])


# ---------------------------------------------------------------------------------------------------
# 1. The answer on screen is always about the input on screen


def test_the_upload_answer_never_stays_beside_the_drawing(desktop, mnist_samples, tmp_path):
    """Draw 2 -> upload a 7 -> back to Draw: no 7 and no question beside the 2 (No -> 2 -> Send used to store
    the photo of the 7 labelled 2)."""
    page = desktop
    stroke_on(page, "#digits-sketch canvas", TWO)
    wait_top(page, "digits", "2")
    page.get_by_role("tab", name="Upload").click()
    settle(page)
    assert top_class(page, "digits") == "" and not page.locator("#digits-feedback-yes").is_visible()  # no upload yet
    seven = tmp_path / "seven.png"
    Image.fromarray(255 - _clear_mnist_digit(mnist_samples, 7)).resize((196, 196)).save(seven)
    page.set_input_files("#digits-upload input[type=file]", str(seven))
    wait_top(page, "digits", "7")
    page.get_by_role("tab", name="Draw").click()
    settle(page)
    shown = top_class(page, "digits")
    assert shown != "7", f"the upload's answer stayed beside the drawing: {label_text(page, 'digits')!r}"
    if page.locator("#digits-feedback-yes").is_visible():  # a question, only about the drawing
        assert shown == "2"
    page.get_by_role("tab", name="Upload").click()  # and back: the photo's own answer
    wait_top(page, "digits", "7")


def test_back_on_a_drawing_already_answered_nothing_is_asked_twice(desktop):
    """Yes stored for a drawing; Upload, then Draw again: the same answer, no second question for it."""
    page = desktop
    stroke_on(page, "#digits-sketch canvas", SEVEN)
    wait_top(page, "digits", "7")
    page.click("#digits-feedback-yes")
    page.wait_for_function("sel => /Stored feedback/.test(document.querySelector(sel)?.textContent || '')",
                           arg="#digits-feedback-status")
    page.get_by_role("tab", name="Upload").click()
    page.wait_for_function("sel => !document.querySelector(sel)", arg="#digits-label [data-testid='label-output-value']")
    page.get_by_role("tab", name="Draw").click()
    wait_top(page, "digits", "7")
    page.wait_for_function("sel => /feedback is stored/.test(document.querySelector(sel)?.textContent || '')",
                           arg="#digits-feedback-status")
    assert not page.locator("#digits-feedback-yes").is_visible()


def test_the_read_tab_keeps_each_input_its_own_reading(desktop):
    page = desktop
    page.get_by_role("tab", name="Read", exact=True).click()
    stroke_on(page, "#read-sketch canvas", [[(0.2, 0.2), (0.18, 0.8)], [(0.4, 0.22), (0.58, 0.2), (0.48, 0.5), (0.43, 0.8)]])
    page.wait_for_function("sel => (document.querySelector(sel)?.textContent || '').trim() === '17'",
                           arg="#read-text .read-text")
    page.get_by_role("tab", name="Upload").click()
    settle(page)
    assert page.locator("#read-text").inner_text().strip() == "" and not page.locator("#read-feedback-yes").is_visible()
    page.get_by_role("tab", name="Draw").click()
    page.wait_for_function("sel => (document.querySelector(sel)?.textContent || '').trim() === '17'",
                           arg="#read-text .read-text")


# ---------------------------------------------------------------------------------------------------
# 2. Another character set answers the same drawing at once


def test_another_character_set_answers_the_same_drawing(desktop):
    page = desktop
    page.get_by_role("tab", name="Letters", exact=True).click()
    stroke_on(page, "#letters-sketch canvas", L_SHAPE)
    wait_top(page, "letters", "L")
    page.locator("#letters-task").get_by_label("All characters (0-9, A-Z, a-z)").check()
    wait_top(page, "letters", "L")  # no stroke, no button
    page.locator("#letters-task").get_by_label("Letters (A-Z, a-z)").check()
    wait_top(page, "letters", "L")

    page.get_by_role("tab", name="Read", exact=True).click()
    stroke_on(page, "#read-sketch canvas", [[(0.2, 0.2), (0.18, 0.8)], [(0.4, 0.22), (0.58, 0.2), (0.48, 0.5), (0.43, 0.8)]])
    page.wait_for_function("sel => (document.querySelector(sel)?.textContent || '').trim() === '17'",
                           arg="#read-text .read-text")
    page.locator("#read-task").get_by_label("All characters (0-9, A-Z, a-z)").check()
    page.wait_for_timeout(1500)
    assert len(page.locator("#read-text").inner_text().strip()) == 2  # read again, not blanked


# ---------------------------------------------------------------------------------------------------
# 3. A phone


def below_the_fold(page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    return box["y"] + box["height"] - 844


@pytest.mark.parametrize("tab, prefix, strokes, want", [("Digits", "digits", SEVEN, "7"), ("Letters", "letters", L_SHAPE, "L")])
def test_a_finger_drawing_and_its_top_3_fit_the_first_phone_screen(phone, tab, prefix, strokes, want):
    page = phone
    page.get_by_role("tab", name=tab, exact=True).click()
    stroke_on(page, f"#{prefix}-sketch canvas", strokes, touch=True)
    wait_top(page, prefix, want)
    assert page.evaluate("() => window.scrollY") == 0
    rows = page.locator(f"#{prefix}-label .confidence-set, #{prefix}-label [data-testid='label-output-value'] ~ * ")
    label = page.locator(f"#{prefix}-label")
    assert below_the_fold(page, f"#{prefix}-sketch canvas") <= 0
    assert below_the_fold(page, f"#{prefix}-label") <= 0, f"the top 3 end {below_the_fold(page, f'#{prefix}-label'):.0f} px below"
    assert len([t for t in label.inner_text().splitlines() if "%" in t]) >= 3 or rows.count() >= 3


def test_the_game_target_pad_and_submit_fit_the_first_phone_screen(phone):
    page = phone
    start_round(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    for part in ("#game-target-char", "#game-sketch canvas", "#game-submit"):
        assert below_the_fold(page, part) <= 0, f"{part} ends {below_the_fold(page, part):.0f} px below the first screen"
    page.click("#game-end")


def test_the_phone_read_pad_takes_a_five_character_word_by_finger(phone):
    page = phone
    page.get_by_role("tab", name="Read", exact=True).click()
    pad = page.locator("#read-sketch canvas").bounding_box()
    assert pad["height"] >= 160 and pad["x"] >= 0 and pad["x"] + pad["width"] <= 390
    word = []  # five capitals side by side, each in a fifth of the pad: L, T, L, T, L
    for i in range(5):
        x0, w = 0.03 + i * 0.195, 0.15
        if i % 2 == 0:
            word.append([(x0 + 0.2 * w, 0.15), (x0 + 0.2 * w, 0.85), (x0 + w, 0.85)])
        else:
            word += [[(x0, 0.15), (x0 + w, 0.15)], [(x0 + w / 2, 0.15), (x0 + w / 2, 0.85)]]
    page.locator("#read-task").get_by_label("Letters (A-Z, a-z)").check()
    stroke_on(page, "#read-sketch canvas", word, touch=True)
    page.wait_for_function("sel => document.querySelectorAll(sel).length === 5", arg="#read-details tbody tr")
    assert page.locator("#read-text .read-text").inner_text().strip().upper() == "LTLTL"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_no_control_lies_on_any_drawing_surface(chromium, app_url, size):
    """What a finger or the mouse meets anywhere on each pad is the pad itself."""
    page = open_page(chromium, app_url, PHONE if size == "phone" else DESKTOP)
    try:
        for tab, pad in PADS.items():
            page.get_by_role("tab", name=tab, exact=True).click()
            if tab == "Game":
                page.click("#game-start")
            canvas = page.locator(f"{pad} canvas")
            canvas.scroll_into_view_if_needed()
            covered = page.evaluate("""sel => { const c = document.querySelector(sel), r = c.getBoundingClientRect();
                const hits = [];
                for (let i = 0; i <= 10; i++) for (let j = 0; j <= 10; j++) {
                  const x = r.left + 6 + (r.width - 12) * i / 10, y = r.top + 6 + (r.height - 12) * j / 10;  // inside the round corners
                  if (y < 0 || y > innerHeight) continue;
                  const at = document.elementFromPoint(x, y);
                  if (at !== c) hits.push([i, j, at && at.outerHTML.slice(0, 60)]);
                } return hits; }""", f"{pad} canvas")
            assert not covered, f"{tab} ({size}): something lies on the pad: {covered[:3]}"
            if tab == "Game":
                page.click("#game-end")
    finally:
        page.context.close()


def test_a_finger_stroke_from_the_pads_top_right_corner_is_drawn(phone):
    page = phone
    page.get_by_role("tab", name="Read", exact=True).click()
    stroke_on(page, "#read-sketch canvas", [[(0.93, 0.12), (0.88, 0.35), (0.82, 0.6)]], touch=True)
    settle(page)
    assert ink_at(page, "#read-sketch canvas", 0.925, 0.13) < 128  # the stroke's start is on the pad


# ---------------------------------------------------------------------------------------------------
# 4-5. The game's end


def test_the_clock_running_out_mid_stroke_ends_the_stroke_cleanly(desktop):
    """The pen held down as the round ends: no page text selected, and the next round starts on a clean pad."""
    page = desktop
    start_round(page, "30 s")
    page.wait_for_function("sel => /^\\s*[12] s left/.test(document.querySelector(sel)?.textContent || '')",
                           arg="#game-clock", timeout=40_000)
    box = page.locator("#game-sketch canvas").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    sweep = 0
    while not page.locator("#game-report").is_visible() and sweep < 200:  # the pen moves on as the round ends
        sweep += 1
        page.mouse.move(box["x"] + 20 + (sweep * 7) % (box["width"] - 40), box["y"] + 20 + (sweep * 5) % (box["height"] - 40))
        page.wait_for_timeout(30)
    assert page.locator("#game-report").is_visible(), "the round did not end"
    report = page.locator("#game-report").bounding_box()
    for i in range(15):  # on across the summary, as a hand keeps moving
        page.mouse.move(report["x"] + 10 + i * 40, report["y"] + report["height"] / 2 + (i % 3) * 10)
    page.mouse.move(20, 20)
    page.mouse.up()
    assert page.evaluate("() => String(window.getSelection())") == "", "the drag selected page text"
    page.click("#game-start")
    page.locator("#game-target-char").wait_for()
    box = page.locator("#game-sketch canvas").bounding_box()
    for i in range(12):  # the pen up, passing over the new round's pad: no ink from the old stroke
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.05 * i), box["y"] + box["height"] * (0.2 + 0.05 * i))
    assert ink_at(page, "#game-sketch canvas", 0.5, 0.5) == 255
    page.click("#game-end")


def test_a_pad_taken_off_the_page_mid_stroke_ends_the_stroke(desktop):
    """The page re-rendering the pad away under a held pen (as a round's end may): the stroke ends there, no
    text is selected, and the pen passing over the pad once it is back draws nothing."""
    page = desktop
    canvas = "#digits-sketch canvas"
    box = page.locator(canvas).bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 30)
    page.mouse.down()
    for i in range(5):
        page.mouse.move(box["x"] + 40 + 8 * i, box["y"] + 40)
    page.evaluate("() => { const pad = document.querySelector('#digits-sketch');"
                  " window.__pad = [pad, pad.parentNode]; pad.remove(); }")
    for i in range(20):  # the hand goes on, over the page's text
        page.mouse.move(box["x"] + 60 - i * 15, box["y"] - 40 - i * 10)
    assert page.evaluate("() => String(window.getSelection())") == ""
    page.mouse.up()
    page.evaluate("() => window.__pad[1].appendChild(window.__pad[0])")
    dark = "() => { const c = document.querySelector('%s'); return c.getContext('2d').getImageData(0, 0, c.width," \
           " c.height).data.filter((v, i) => i %% 4 === 0 && v < 128).length; }" % canvas
    before = page.evaluate(dark)
    for i in range(10):  # the pen up, over the pad
        page.mouse.move(box["x"] + 50 + 15 * i, box["y"] + 100 + 10 * i)
    assert page.evaluate(dark) == before, "the pen kept drawing after the stroke had ended"


def test_an_empty_round_says_nothing_was_drawn(desktop):
    page = desktop
    start_round(page)
    page.click("#game-end")
    page.wait_for_function("sel => /Round over/.test(document.querySelector(sel)?.textContent || '')", arg="#game-report")
    report = page.locator("#game-report").inner_text()
    assert "every drawing right" not in report and "Nothing was drawn" in report, report


# ---------------------------------------------------------------------------------------------------
# 6. The Read pad's pen


def test_a_small_lowercase_e_keeps_its_eye(desktop):
    """An e about 50 px tall on the Read pad: the pen fits the writing, the loop stays open."""
    page = desktop
    page.get_by_role("tab", name="Read", exact=True).click()
    box = page.locator("#read-sketch canvas").bounding_box()
    side = 50 / box["height"]  # 50 CSS px, in fractions of the pad's height
    cx, cy = 0.3, 0.5
    sx = side * box["height"] / box["width"]  # the same 50 px across
    e = [[(cx - 0.45 * sx, cy), (cx + 0.45 * sx, cy), (cx + 0.42 * sx, cy - 0.25 * side), (cx + 0.2 * sx, cy - 0.45 * side),
          (cx - 0.2 * sx, cy - 0.45 * side), (cx - 0.45 * sx, cy - 0.15 * side), (cx - 0.42 * sx, cy + 0.25 * side),
          (cx - 0.15 * sx, cy + 0.48 * side), (cx + 0.25 * sx, cy + 0.45 * side), (cx + 0.45 * sx, cy + 0.3 * side)]]
    stroke_on(page, "#read-sketch canvas", e, step_px=3)
    settle(page)
    assert ink_at(page, "#read-sketch canvas", cx, cy) < 128  # the bar is drawn
    assert ink_at(page, "#read-sketch canvas", cx, cy - 0.23 * side) == 255, "the e's eye filled in"


# ---------------------------------------------------------------------------------------------------
# 7. Examples


@pytest.mark.parametrize("tab, example, want", [
    ("Digits", "A photo of a 7", "7"), ("Letters", "A photo of an R", "R"),
    ("Read", "A number: 2026", "2026"), ("Read", "A word: hello", "hello"),
])
def test_an_example_answers_in_one_click_on_the_upload_tab(desktop, tab, example, want):
    page = desktop
    page.get_by_role("tab", name=tab, exact=True).click()
    page.get_by_role("button", name=example).click()
    if tab == "Read":
        page.wait_for_function("([sel, want]) => (document.querySelector(sel)?.textContent || '').trim() === want",
                               arg=["#read-text .read-text", want])
        upload = "#read-upload"
    else:
        prefix = tab.lower()
        wait_top(page, prefix, want)
        upload = f"#{prefix}-upload"
    page.locator(f"{upload} img").first.wait_for()  # the picture answered is the one on screen
    assert page.get_by_role("tab", name="Upload", selected=True).is_visible()
