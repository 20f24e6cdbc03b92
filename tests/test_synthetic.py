"""The synthetic handwriting generator, the font manifest, the letters training sets and letter scoring.

Runs on a fresh clone: Pillow's bundled FreeType font stands in for the fetched handwriting fonts, and the
Hershey stroke fonts come with the `hershey-fonts` requirement."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from handwriting.tasks import LOOKALIKES, labels_for, lookalikes_of
from training.fonts import FontSpec, hershey_specs, load_manifest
from training.synthetic import ALL_LABELS, generate, sample, usable_chars

OUTLINE = FontSpec("pillow-default", "outline", "fixture", "pillow", "OFL-1.1", "<default>")
STROKE = FontSpec("futural", "stroke", "pypi", "hershey-fonts", "public domain")


def blurred(img):
    return ndimage.gaussian_filter(img.astype(np.float32), 1.5).ravel()


def correlation(a, b) -> float:
    return float(np.corrcoef(blurred(a), blurred(b))[0, 1])


@pytest.mark.parametrize("spec", [OUTLINE, STROKE], ids=["outline", "stroke"])
def test_samples_look_like_the_model_input(spec):
    rng = np.random.default_rng(0)
    for char in "Ag7":
        img = sample(spec, char, rng)
        assert img is not None and img.shape == (28, 28) and img.dtype == np.uint8
        assert img.max() == 255 and img[0].max() < 128 and img[:, 0].max() < 128  # white ink, black border
        cy, cx = ndimage.center_of_mass(img.astype(float))
        assert abs(cy - 14) <= 2 and abs(cx - 14) <= 2  # centred like the app's inputs


@pytest.mark.parametrize("spec", [OUTLINE, STROKE], ids=["outline", "stroke"])
def test_renders_vary_but_keep_the_character(spec):
    rng = np.random.default_rng(1)
    renders = {c: [sample(spec, c, rng) for _ in range(6)] for c in "OLT"}
    first = renders["O"][0]
    assert any(not np.array_equal(first, r) for r in renders["O"][1:])  # augmentation varies them
    same = np.mean([correlation(a, b) for c in renders for a in renders[c] for b in renders[c] if a is not b])
    other = np.mean([correlation(a, b) for c in renders for d in renders if d != c for a in renders[c] for b in renders[d]])
    assert same > other + 0.15


@pytest.mark.parametrize("spec", [OUTLINE, STROKE], ids=["outline", "stroke"])
def test_characters_are_upright(spec):
    """A T's bar is at the top and an L's foot at the bottom (upside-down renders swap p/b, n/u, M/W)."""
    rng = np.random.default_rng(3)
    for char, top_heavier in (("T", True), ("L", False)):
        for _ in range(4):
            img = sample(spec, char, rng).astype(float)
            widest_row = int(np.argmax((img > 128).sum(1)))
            assert (widest_row < 14) == top_heavier, (char, widest_row)


@pytest.mark.parametrize("spec", [OUTLINE, STROKE], ids=["outline", "stroke"])
def test_same_seed_same_render(spec):
    a = sample(spec, "k", np.random.default_rng(5))
    b = sample(spec, "k", np.random.default_rng(5))
    assert a is not None and a.shape == (28, 28) and a.max() == 255  # a real render (None would compare equal)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample(spec, "k", np.random.default_rng(6)))  # and the seed is what decides it


def test_usable_chars_skips_missing_glyphs():
    assert usable_chars(OUTLINE, ("A", "q", "\u0e01")) == ["A", "q"]  # Thai: no glyph in the font
    assert set(usable_chars(STROKE)) == set(ALL_LABELS)


def test_generate_covers_every_class_from_both_font_kinds():
    chars = ("a", "B", "3")
    x, y, font = generate([OUTLINE, STROKE], 8, chars=chars, workers=1, stroke_share=0.5, seed=2)
    assert x.shape[1:] == (28, 28) and len(x) == len(y) == len(font)
    counts = {ALL_LABELS[k]: int((y == k).sum()) for k in np.unique(y)}
    assert set(counts) == set(chars) and all(6 <= n <= 8 for n in counts.values())
    assert (font == 1).sum() == pytest.approx(len(font) / 2, abs=2)


def test_manifest_resolves_font_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="fetch"):
        load_manifest(tmp_path)
    entry = dict(family="x", kind="outline", source="npm", version="1", licence="OFL-1.1", path="npm/x.woff")
    (tmp_path / "manifest.json").write_text(json.dumps({"fonts": [entry] + [s.__dict__ for s in hershey_specs()]}))
    specs = load_manifest(tmp_path)
    assert specs[0].path == str(tmp_path / "npm" / "x.woff")
    assert {s.kind for s in specs[1:]} == {"stroke"}


def test_letters_and_all_relabelling():
    from training.letters_data import from_all_labels

    y_all = np.array([ALL_LABELS.index(c) for c in "0A9za"])
    x = np.arange(5)
    xl, yl = from_all_labels("letters", x, y_all)
    assert list(xl) == [1, 3, 4] and [labels_for("letters")[v] for v in yl] == ["A", "z", "a"]
    xa, ya = from_all_labels("all", x, y_all)
    assert list(xa) == list(x) and list(ya) == list(y_all)


def test_lookalike_groups():
    assert set(lookalikes_of("o")) == {"O", "0"}
    assert set(lookalikes_of("I")) == {"l", "1"}
    assert lookalikes_of("a") == ()
    flat = [c for g in LOOKALIKES for c in g]
    assert len(flat) == len(set(flat)) and set(flat) <= set(ALL_LABELS)


def test_character_scores_count_case_and_lookalikes():
    from training.evaluate import EvalSet, character_scores

    labels = labels_for("all")
    truth = ["o", "O", "a", "B", "1", "b"]
    guess = ["O", "0", "a", "b", "l", "d"]  # case error, look-alike, right, case error, look-alike, wrong
    y = np.array([labels.index(c) for c in truth])
    probs = np.full((len(y), len(labels)), 1e-3)
    probs[np.arange(len(y)), [labels.index(c) for c in guess]] = 1.0
    result = character_scores(probs, EvalSet("t", np.zeros((len(y), 28, 28)), y, "test"), labels)
    assert result["accuracy"] == pytest.approx(1 / 6, abs=1e-4)
    assert result["case_insensitive_accuracy"] == pytest.approx(3 / 6, abs=1e-4)  # o/O, a, B/b
    assert result["lookalike_insensitive_accuracy"] == pytest.approx(5 / 6, abs=1e-4)
    capitals = result["groups"]["capitals"]  # O read as 0 (wrong even case-insensitively), B read as b
    assert (capitals["n"], capitals["accuracy"], capitals["case_insensitive_accuracy"]) == (2, 0.0, 0.5)
    assert result["groups"]["digits"]["n"] == 1
