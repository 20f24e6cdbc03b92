"""Reading a whole number or word (handwriting.reading) on lines composed from the committed fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from rapidfuzz.distance import Levenshtein

import imagegen
from handwriting import BlankImageError, InvalidImageError, predict
from handwriting.models import load as get_recognizer
from handwriting import decoding
from handwriting.reading import MAX_CHARACTERS, _in_context, read
from handwriting.tasks import LOOKALIKES, get_task
from training.reading_methods import METHODS, read_with


def glyph(digit: np.ndarray, height: int) -> np.ndarray:
    """A 28x28 white-on-black fixture image -> its ink, cropped and scaled to `height` px (float 0..1)."""
    rows, cols = np.flatnonzero(digit.max(1) > 40), np.flatnonzero(digit.max(0) > 40)
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    width = max(2, round(crop.shape[1] * height / crop.shape[0]))
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR)) / 255.0


def compose(images, gaps, height=110, canvas_h=280, jitter=None):
    """Characters side by side, black on white uint8; and each one's box [x0, y0, x1, y1]."""
    glyphs = [glyph(im, height) for im in images]
    width = 60 + sum(g.shape[1] for g in glyphs) + sum(gaps)
    ink = np.zeros((canvas_h, width))
    boxes, x = [], 30
    for i, g in enumerate(glyphs):
        x += gaps[i - 1] if i else 0
        y = (canvas_h - g.shape[0]) // 2 + (jitter[i] if jitter is not None else 0)
        region = ink[y : y + g.shape[0], x : x + g.shape[1]]
        np.maximum(region, g, out=region)
        boxes.append([x, y, x + g.shape[1], y + g.shape[0]])
        x += g.shape[1]
    return (255 - ink * 255).astype(np.uint8), boxes


@pytest.fixture(scope="module")
def clear_digits(mnist_samples):
    """Fixture digits the single-character path reads right, by label (so a miss is the line reader's)."""
    x, y = mnist_samples
    by_label: dict[int, list[np.ndarray]] = {}
    for image, label in zip(x, y):
        if predict(imagegen.dark_on_white(image), "digits").label == str(label):
            by_label.setdefault(int(label), []).append(image)
    return by_label


def number(clear_digits, text: str, rng) -> list[np.ndarray]:
    return [clear_digits[int(c)][int(rng.integers(len(clear_digits[int(c)])))] for c in text]


def cer(truth: str, got: str) -> float:
    return Levenshtein.distance(truth, got) / len(truth)


def test_composed_numbers_read_right(clear_digits):
    rng = np.random.default_rng(1)
    exact, errors = 0, []
    for _ in range(12):
        text = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(4, 9))))
        image, _ = compose(number(clear_digits, text, rng), list(rng.integers(12, 40, len(text) - 1)),
                           jitter=rng.integers(-12, 13, len(text)))
        got = read(image, "digits").text
        exact += got == text
        errors.append(cer(text, got))
    assert exact >= 10
    assert np.mean(errors) <= 0.05


def test_boxes_lie_in_the_inputs_pixels_in_order(clear_digits):
    rng = np.random.default_rng(2)
    image, truth_boxes = compose(number(clear_digits, "2026", rng), [25, 30, 20])
    big = np.asarray(Image.fromarray(image).resize((image.shape[1] * 2, image.shape[0] * 2)))  # boxes scale with it
    for picture, scale in ((image, 1), (big, 2)):
        reading = read(picture, "digits")
        assert reading.text == "2026"
        h, w = picture.shape
        lefts = [c.box[0] for c in reading.characters]
        assert lefts == sorted(lefts)
        for c, truth in zip(reading.characters, truth_boxes):
            x0, y0, x1, y1 = c.box
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            tx0, ty0, tx1, ty1 = (v * scale for v in truth)
            assert abs(x0 - tx0) <= 6 * scale and abs(x1 - tx1) <= 6 * scale  # the character's own extent
            assert abs(y0 - ty0) <= 6 * scale and abs(y1 - ty1) <= 6 * scale


def test_reading_json_form(clear_digits):
    rng = np.random.default_rng(3)
    image, _ = compose(number(clear_digits, "47", rng), [30])
    out = read(image, "digits").as_json()
    assert out["text"] == "47" and len(out["characters"]) == 2
    first = out["characters"][0]
    assert set(first) == {"box", "label", "confidence", "top3", "unsure"}
    assert len(first["box"]) == 4 and all(isinstance(v, int) for v in first["box"])
    assert first["label"] == first["top3"][0]["label"] and first["confidence"] == first["top3"][0]["confidence"]
    assert [t["confidence"] for t in first["top3"]] == sorted((t["confidence"] for t in first["top3"]), reverse=True)
    assert first["unsure"] == (first["confidence"] < 0.6)


def test_every_input_form_reads_the_same(clear_digits, tmp_path):
    rng = np.random.default_rng(4)
    image, _ = compose(number(clear_digits, "3141", rng), [25, 25, 25])
    rgba = np.dstack([np.repeat(image[..., None], 3, axis=2), np.full(image.shape, 255, np.uint8)])
    path = tmp_path / "line.png"
    path.write_bytes(imagegen.encode(image))
    forms = [image, rgba, {"background": None, "layers": [], "composite": rgba}, imagegen.encode(image), str(path)]
    assert [read(form, "digits").text for form in forms] == ["3141"] * len(forms)


def test_photographed_number_reads_right(clear_digits):
    rng = np.random.default_rng(5)
    image, _ = compose(number(clear_digits, "90210", rng), [30, 25, 35, 28])
    ink = 1.0 - image / 255.0
    h, w = ink.shape
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 150 + 50 * xx / w + 25 * yy / h  # grey, unevenly lit paper
    rgb = np.stack([paper * (1 - 0.75 * ink), paper * (1 - 0.7 * ink), paper * (1 - 0.5 * ink)], axis=-1)
    rgb += rng.normal(0, 4, rgb.shape)
    photo = imagegen.encode(np.clip(rgb, 0, 255).astype(np.uint8), "JPEG", quality=85)
    assert read(photo, "digits").text == "90210"


def test_touching_pairs_are_split(clear_digits):
    rng = np.random.default_rng(6)
    right = 0
    pairs = ["23", "57", "80", "46", "39", "12"]
    for text in pairs:
        image, _ = compose(number(clear_digits, text, rng), [-3])  # boxes overlap by 3 px: the inks touch
        reading = read(image, "digits")
        right += reading.text == text
    assert right >= 5


def draw_line(width, height, strokes, dots=()):
    """A canvas with pen strokes (polylines) and dots, black on white, as a person draws on the Sketchpad."""
    img = Image.new("L", (width, height), 255)
    pen = ImageDraw.Draw(img)
    for points in strokes:
        pen.line(points, fill=0, width=9, joint="curve")
    for x, y in dots:
        pen.ellipse([x - 6, y - 6, x + 6, y + 6], fill=0)
    return np.asarray(img)


def test_i_dots_join_their_stems():
    stems = [[(x, 120), (x, 210)] for x in (100, 180, 260)]
    image = draw_line(400, 280, stems, dots=[(100, 85), (180, 85), (260, 85)])
    reading = read(image, "letters")
    assert len(reading.characters) == 3
    for c in reading.characters:
        assert c.box[1] <= 80 and c.box[3] >= 210  # each box holds its dot and its stem


def test_characters_of_two_separate_strokes_stay_one():
    # a T whose stem does not reach its bar, then an open 4 whose down stroke misses the cross bar
    t_shape = [[(40, 70), (160, 70)], [(100, 85), (100, 220)]]
    image = draw_line(240, 280, t_shape)
    reading = read(image, "letters")  # one character, read as T (the "none" head may doubt so loose a T: "?")
    assert len(reading.characters) == 1 and reading.characters[0].top3[0][0].upper() == "T"
    four = [[(60, 60), (30, 160), (120, 160)], [(100, 100), (100, 150)], [(100, 172), (100, 230)]]
    image = draw_line(180, 280, four)
    reading = read(image, "digits")
    assert reading.text == "4"


def test_a_five_with_its_bar_drawn_apart_is_one_character():
    body = [(62, 90), (58, 140), (85, 130), (108, 150), (112, 185), (95, 212), (60, 212)]
    bar = [(80, 72), (140, 70)]  # a separate stroke, off to the right of the body
    reading = read(draw_line(200, 280, [body, bar]), "digits")
    assert reading.text == "5"
    assert reading.characters[0].box[2] >= 140 - 6  # the bar is inside the character's box


def test_one_model_call_per_read(clear_digits, monkeypatch):
    recognizer = get_recognizer("digits")
    calls = []
    real = recognizer.rows
    monkeypatch.setattr(recognizer, "rows", lambda xs: calls.append(len(xs)) or real(xs))
    rng = np.random.default_rng(7)
    image, _ = compose(number(clear_digits, "86420137", rng), [28] * 7)
    assert read(image, "digits").text == "86420137"
    assert calls == [8]  # one batched call for all eight characters
    calls.clear()
    image, _ = compose(number(clear_digits, "5318", rng), [30, -3, 30])  # 1 and 8 touch
    read(image, "digits")
    assert len(calls) <= 2  # the touching pair's candidate cuts: a second call, never one per character


def test_case_follows_the_word():
    letters = get_task("letters")
    labels = letters.labels

    def probs(char, p=0.9):
        out = np.full(len(labels), (1 - p) / (len(labels) - 1), np.float32)
        out[labels.index(char)] = p
        return out

    # h e l l o with a capital-looking O (shape says O 0.6, o 0.3): the word is lowercase, so o
    row_o = probs("O", 0.6)
    row_o[labels.index("o")] = 0.3
    word = [probs("h"), probs("e"), probs("l", 0.5), probs("l", 0.5), row_o]
    got = "".join(labels[int(p.argmax())] for p in _in_context(word, letters))
    assert got == "hello"
    assert _in_context(word, letters)[-1].max() == pytest.approx(0.9)  # o's confidence: the pair's mass
    shout = [probs("H"), probs("E"), probs("L"), probs("L"), probs("o")]
    assert "".join(labels[int(p.argmax())] for p in _in_context(shout, letters)) == "HELLO"
    # a non-look-alike keeps its case whatever the word: no "Hello" forced into "hello"
    mixed = [probs("H"), probs("e"), probs("l"), probs("l"), probs("o")]
    assert "".join(labels[int(p.argmax())] for p in _in_context(mixed, letters)) == "Hello"


def test_drawn_word_look_alikes_follow_its_case():
    # "asox" drawn in lowercase: s, o, x are case look-alikes; whatever the shapes read as, every
    # look-alike in the answer takes the case most of the other letters after the first have
    strokes = [
        [(60, 150), (40, 140), (25, 160), (30, 200), (60, 205), (70, 170), (70, 140), (72, 210)],  # a
        [(150, 142), (120, 140), (115, 160), (150, 180), (150, 200), (115, 205)],  # s
        [(210, 140), (185, 160), (190, 200), (225, 205), (240, 170), (210, 140)],  # o
        [(280, 140), (330, 205)], [(330, 140), (280, 205)],  # x
    ]
    reading = read(draw_line(380, 280, strokes), "letters")
    assert len(reading.characters) == 4
    look_alikes = {c for group in LOOKALIKES for c in group}
    firm = [c for c in reading.text[1:] if c not in look_alikes]
    if firm:
        lower = sum(c.islower() for c in firm) >= sum(c.isupper() for c in firm)
        assert all(c.islower() == lower for c in reading.text if c in look_alikes and c.isalpha())


def test_blank_canvas_or_photo_is_refused():
    with pytest.raises(BlankImageError, match="blank. Write a number or a word"):
        read(np.full((280, 840), 255, np.uint8), "digits")
    with pytest.raises(BlankImageError, match="blank. Write a number or a word"):
        read(imagegen.encode(np.full((1500, 2000), 190, np.uint8), "JPEG"), "digits")  # a photo of a blank page


def test_a_lone_dot_is_refused():
    with pytest.raises(InvalidImageError, match="dot"):
        read(draw_line(840, 280, [], dots=[(400, 140)]), "digits")


def test_a_very_wide_strip_is_refused_before_decoding(monkeypatch):
    strip = imagegen.encode(np.full((200, 20_000), 255, np.uint8))  # a small file that decodes to 4 MP
    monkeypatch.setattr(decoding, "pil_to_grey", lambda *args: pytest.fail("the strip was decoded"))
    with pytest.raises(InvalidImageError, match="too wide"):
        read(strip, "digits")
    with pytest.raises(InvalidImageError, match="too wide"):
        read(np.full((100, 20_000), 255, np.uint8), "digits")


def test_too_many_characters_are_refused(clear_digits):
    rng = np.random.default_rng(8)
    text = "".join(str(d) for d in rng.integers(0, 10, MAX_CHARACTERS + 8))
    image, _ = compose(number(clear_digits, text, rng), [20] * (len(text) - 1), height=60, canvas_h=140)
    with pytest.raises(InvalidImageError, match=f"at most {MAX_CHARACTERS}"):
        read(image, "digits")


def test_unknown_task_and_method_are_refused(clear_digits):
    image, _ = compose(number(clear_digits, "1", np.random.default_rng(9)), [])
    with pytest.raises(ValueError):
        read(image, "emoji")
    with pytest.raises(ValueError, match="Unknown segmentation method 'guess'"):
        read_with(image, "digits", "guess")


def test_read_takes_a_task_or_its_name(clear_digits):
    image, _ = compose(number(clear_digits, "47", np.random.default_rng(3)), [30])
    assert read(image, get_task("digits")).as_json() == read(image, "digits").as_json()


@pytest.mark.parametrize("method", METHODS)
def test_the_evaluations_methods_read_a_number_spaced_apart(clear_digits, method):
    """training/evaluate_reading.py compares these with serving's: each still reads a plain number."""
    image, truth_boxes = compose(number(clear_digits, "3141", np.random.default_rng(11)), [35, 35, 35])
    reading = read_with(image, "digits", method)
    assert reading.text == "3141"
    for c, truth in zip(reading.characters, truth_boxes):
        assert abs(c.box[0] - truth[0]) <= 6 and abs(c.box[2] - truth[2]) <= 6


def test_phone_photo_of_a_number_reads_right_with_boxes_on_the_photo(clear_digits):
    rng = np.random.default_rng(10)
    line, truth_boxes = compose(number(clear_digits, "2718", rng), [30, 25, 35], height=60, canvas_h=100)
    h, w = 1500, 2000  # the number fills a small band of a big photo of the page
    top, left = 700, 500
    ink = np.zeros((h, w))
    big = np.asarray(Image.fromarray(line).resize((line.shape[1] * 3, line.shape[0] * 3), Image.Resampling.BILINEAR))
    ink[top : top + big.shape[0], left : left + big.shape[1]] = 1.0 - big / 255.0
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 140 + 60 * xx / w + 30 * yy / h
    rgb = np.stack([paper * (1 - 0.75 * ink), paper * (1 - 0.7 * ink), paper * (1 - 0.5 * ink)], axis=-1)
    rgb += rng.normal(0, 4, rgb.shape)
    reading = read(imagegen.encode(np.clip(rgb, 0, 255).astype(np.uint8), "JPEG", quality=85), "digits")
    assert reading.text == "2718"
    for c, truth in zip(reading.characters, truth_boxes):
        tx0, ty0, tx1, ty1 = left + 3 * truth[0], top + 3 * truth[1], left + 3 * truth[2], top + 3 * truth[3]
        assert abs(c.box[0] - tx0) <= 20 and abs(c.box[2] - tx1) <= 20
        assert abs(c.box[1] - ty0) <= 20 and abs(c.box[3] - ty1) <= 20
