"""Retraining letters and all characters end to end, on committed fixtures only (no ../shared needed).

The scenario, for each task, from `fixtures/emnist_preprocessed_310.npz` (5 EMNIST ByClass images per class
taken from the preprocessed cache of `training.emnist_cache`, the first of each class marked validation):
- the base model learnt the fixture's training part and, on purpose, that a crossed Z is an E;
- the feedback says those crossed Zs are Zs (corrections), plus training images it got right (confirmations);
- retraining reads the fixture as its EMNIST cache: base data and the EMNIST validation set come from it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handwriting.tasks import labels_for
from handwriting.models import read_model_folder
from training import retrain, synthetic_feedback

pytestmark = pytest.mark.slow  # trains small models: minutes

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "emnist_preprocessed_310.npz"
SMALL = ["--epochs", "6", "--batch-size", "32", "--learning-rate", "1e-3", "--lr-decay-per-epoch", "0.8",
         "--correction-repeats", "5", "--holdout-fraction", "0.25"]


def small_cnn(classes: int):
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(),
                              layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
                              layers.Dense(classes, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    return model


def fixture_part(task: str, validation: bool):
    with np.load(FIXTURE) as d:
        keep = d["validation"] == validation
        x, y = d["x"][keep], d["y"][keep].astype(np.int64)
    if task == "letters":
        x, y = x[y >= 10], y[y >= 10] - 10
    return x, y


@pytest.fixture(scope="module", params=["letters", "all"])
def scenario(request, tmp_path_factory):
    import keras

    task = request.param
    labels = labels_for(task)
    root = tmp_path_factory.mktemp(f"retrain-{task}")
    data_dir = root / "data"  # empty: no hw62_dev, no EMNIST files, no MNIST
    data_dir.mkdir()
    train_x, train_y = fixture_part(task, validation=False)

    zeds, _ = synthetic_feedback.glyphs("crossed_zed", 60, seed=1, task=task)
    keras.utils.set_random_seed(0)
    model = small_cnn(len(labels))
    model.fit(np.concatenate([train_x, zeds])[..., None] / 255.0,
              np.concatenate([train_y, np.full(len(zeds), labels.index("E"))]), epochs=25, batch_size=32, verbose=0)
    base = root / "base"
    base.mkdir()
    model.save(base / "model.keras")
    (base / "metrics.json").write_text(json.dumps({"task": task, "version": "2.0.0"}))

    corrections, zed_labels = synthetic_feedback.glyphs("crossed_zed", 60, seed=2, task=task)
    confirmed = train_x[::4][:40]
    fx = np.concatenate([corrections, confirmed])
    fy = np.concatenate([zed_labels, train_y[::4][:40]])
    was_correct = np.concatenate([np.zeros(60, bool), np.ones(len(confirmed), bool)])
    feedback = synthetic_feedback.feedback_file(root / "feedback.npz", fx, fy, was_correct, seed=4, task=task)
    return {"task": task, "root": root, "data_dir": data_dir, "base": base, "feedback": feedback}


def run(scenario, name: str, *extra: str):
    out = scenario["root"] / name
    report = retrain.main(["--task", scenario["task"], "--feedback", str(scenario["feedback"]),
                           "--data-dir", str(scenario["data_dir"]), "--emnist-cache", str(FIXTURE),
                           "--base-model", str(scenario["base"]), "--out", str(out),
                           "--promote-to", str(out / "promoted"), *SMALL, *extra])
    assert json.loads((out / "report.json").read_text())["decision"] == report["decision"]
    return report, out


def predictions(weights, x) -> np.ndarray:
    from training.keras_runtime import KerasRuntime

    return KerasRuntime(weights)(x.astype(np.float32) / 255.0).argmax(1)


def test_feedback_correcting_a_letter_confusion_is_learnt_and_promoted(scenario):
    task, labels = scenario["task"], labels_for(scenario["task"])
    report, out = run(scenario, "corrections")

    held_out = report["comparison"]["feedback_heldout"]
    assert held_out["verdict"] == "better" and held_out["new_accuracy"] >= held_out["old_accuracy"] + 0.3
    assert report["comparison"]["emnist_val"]["n"] == 52 if task == "letters" else 62
    assert report["comparison"]["emnist_val"]["verdict"] != "worse"
    expected_missing = {"hw62_letters"} if task == "letters" else {"hw62_all", "mnist_test"}
    assert report["skipped_sets"].keys() == expected_missing
    composition = report["training_set"]
    assert composition["class_balanced"] and "emnist_preprocessed_310.npz" in composition["base_data"]
    assert composition["base_images"] == (208 if task == "letters" else 248)  # the fixture minus its validation part
    assert report["promoted"]
    # the control tool scores any model on the same held-out records as the gate
    from training.compare_on_feedback import held_out_scores

    scores = held_out_scores(scenario["feedback"], task, [scenario["base"], out / "candidate"],
                             holdout_fraction=float(SMALL[SMALL.index("--holdout-fraction") + 1]))
    assert scores["held_out"] == held_out["n"]
    assert scores["models"][str(scenario["base"])]["accuracy"] == pytest.approx(held_out["old_accuracy"], abs=1e-4)
    assert scores["models"][str(out / "candidate")]["accuracy"] == pytest.approx(held_out["new_accuracy"], abs=1e-4)
    base_row, new_row = scores["models"][str(scenario["base"])], scores["models"][str(out / "candidate")]
    assert base_row["corrections_answered_right"] == 0  # the served model got each of them wrong when sent
    assert new_row["corrections_answered_right"] >= 0.5  # the retrain now reads most of them

    fresh, _ = synthetic_feedback.glyphs("crossed_zed", 40, seed=9, task=task)
    assert (predictions(scenario["base"] / "model.keras", fresh) == labels.index("E")).mean() >= 0.8
    promoted = read_model_folder(task, out / "promoted", source="test")
    assert (predictions(promoted.weights, fresh) == labels.index("Z")).mean() >= 0.8
    assert promoted.version == "2.0.1"
    assert "## Retraining from feedback: promoted" in (out / "promoted" / "README.md").read_text()


def test_a_letters_model_trained_on_shuffled_labels_is_refused(scenario):
    report, out = run(scenario, "shuffled", "--shuffle-labels", "--epochs", "20", "--learning-rate", "5e-3", "--lr-decay-per-epoch", "1")

    assert not report["promoted"] and any(reason.startswith("worse on") for reason in report["reasons"]), report["comparison"]
    assert not (out / "promoted").exists()
    assert (out / "candidate" / "model.keras").is_file()


def test_feedback_of_another_task_is_refused(scenario, tmp_path):
    other = "all" if scenario["task"] == "letters" else "letters"
    wrong = synthetic_feedback.feedback_file(tmp_path / "other.npz", np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.int64),
                                             np.zeros(3, bool), task=other)
    with pytest.raises(SystemExit, match="not '"):
        retrain.load_feedback(wrong, scenario["task"])


def test_class_weights_make_every_class_count_alike():
    y = np.array([0] * 90 + [1] * 10)
    w = retrain.class_weights(y, 3)
    assert np.isclose(w[y == 0].sum(), w[y == 1].sum()) and np.isclose(w.mean(), 1.0)


def test_base_data_of_letters_is_the_fixture_training_part_shifted():
    x, y, description = retrain.base_training_data("letters", None, FIXTURE)
    fx, fy = fixture_part("letters", validation=False)
    np.testing.assert_array_equal(x, fx)
    np.testing.assert_array_equal(y, fy)
    assert y.min() >= 0 and y.max() == 51 and "emnist_byclass" in description


def test_synthetic_renders_join_the_base_data_in_the_task_labels(tmp_path):
    path = tmp_path / "synthetic.npz"
    all_labels = labels_for("all")
    y_all = np.array([all_labels.index(c) for c in "7Aa7z"])
    np.savez(path, x=np.full((5, 28, 28), 9, np.uint8), y=y_all, font=np.zeros(5, np.int64), info=json.dumps({"fonts": []}))
    x, y, description = retrain.with_synthetic("letters", np.zeros((2, 28, 28), np.uint8), np.array([0, 1]), "EMNIST", path)
    assert [labels_for("letters")[v] for v in y] == ["A", "B", "A", "a", "z"] and len(x) == 5  # digits dropped
    assert description == "EMNIST + 3 synthetic font renders (synthetic.npz)"


def test_synthetic_feedback_for_letters_comes_from_the_cache_training_part(tmp_path):
    from training.keras_runtime import KerasRuntime

    model = small_cnn(52)
    model.save(tmp_path / "model.keras")
    x, y, was_correct = synthetic_feedback.make_character_feedback(40, "letters", KerasRuntime(tmp_path / "model.keras"),
                                                                    seed=0, emnist_cache=FIXTURE)
    assert x.shape == (40, 28, 28) and y.min() >= 0 and y.max() < 52 and was_correct.dtype == bool
    assert (y == labels_for("letters").index("Z")).sum() >= 12  # the crossed Zs
    train_x, _ = fixture_part("letters", validation=False)
    val_x, _ = fixture_part("letters", validation=True)
    drawn = {img.tobytes() for img in x}
    assert not drawn & {img.tobytes() for img in val_x}  # never the validation tenth
    assert len(drawn & {img.tobytes() for img in train_x}) == 40 - 12


def test_class_weights_follow_the_base_models_prior_power():
    y = np.array([0] * 90 + [1] * 10)
    half = retrain.class_weights(y, 2, 0.5)
    assert np.isclose(half[y == 1][0] / half[y == 0][0], 3.0) and np.isclose(half.mean(), 1.0)
    assert np.allclose(retrain.class_weights(y, 2, 0.0), 1.0)


def test_a_retrain_keeps_showing_the_renders_its_base_model_learnt_from(tmp_path, monkeypatch):
    from training import config

    base = tmp_path / "base"
    base.mkdir()
    (base / "training.json").write_text(json.dumps({"settings": {"synthetic": "synthetic_pc7_s3.npz"}}))
    monkeypatch.setattr(config, "SYNTHETIC_DIR", tmp_path / "synthetic")
    (tmp_path / "synthetic").mkdir()
    (tmp_path / "synthetic" / "synthetic_pc7_s3.npz").write_bytes(b"")
    assert retrain.synthetic_cache_for("letters", base) == tmp_path / "synthetic" / "synthetic_pc7_s3.npz"
    assert retrain.synthetic_cache_for("letters", base, "given.npz") == Path("given.npz")
    assert retrain.synthetic_cache_for("digits", base) is None  # the digits model learnt from no renders
    (tmp_path / "synthetic" / "synthetic_pc7_s3.npz").unlink()  # missing: rendered with the fetched fonts...
    made = []
    monkeypatch.setattr("training.fonts.load_manifest", lambda folder=None: [])
    monkeypatch.setattr("training.synthetic.build_cache", lambda per_class, seed, out=None: made.append((per_class, seed)) or out)
    assert retrain.synthetic_cache_for("all", base) == tmp_path / "synthetic" / "synthetic_pc7_s3.npz"
    assert made == [(7, 3)]

    def no_fonts(folder=None):
        raise FileNotFoundError("data/fonts/manifest.json not found")

    monkeypatch.setattr("training.fonts.load_manifest", no_fonts)  # ...and without the fonts, it says what to run
    with pytest.raises(SystemExit, match="fetch_fonts"):
        retrain.synthetic_cache_for("all", base)


def test_mixed_feedback_arrives_drawn_photographed_and_scanned():
    train_x, _ = fixture_part("letters", validation=False)
    chars = train_x[:9]
    sent = synthetic_feedback.as_sent(chars, "mixed", seed=0)
    assert sent.shape == chars.shape and sent.dtype == np.uint8
    changed = [not np.array_equal(a, b) for a, b in zip(sent, chars)]
    assert changed[0::3] == [True] * 3 and changed[1::3] == [True] * 3  # drawn on the pad, photographed
    assert changed[2::3] == [False] * 3  # as scanned
    assert np.array_equal(synthetic_feedback.as_sent(chars, "scan"), chars)


def test_a_slanted_narrow_hand_writes_narrower_characters_leaning_right():
    block = np.zeros((1, 28, 28), np.uint8)
    block[0, 4:24, 6:22] = 255  # a wide upright bar: its ink is as wide as it is tall, and straight
    assert np.array_equal(synthetic_feedback.in_hand(block, "as-written"), block)
    written = synthetic_feedback.in_hand(np.repeat(block, 4, 0), "slanted-narrow", seed=0)
    for glyph in written:
        rows, cols = np.nonzero(glyph > 127)
        assert np.ptp(cols) < 0.9 * np.ptp(rows)  # narrower than tall now (it was 16 by 20)
        top, bottom = rows < np.percentile(rows, 25), rows > np.percentile(rows, 75)
        assert cols[top].mean() > cols[bottom].mean() + 1  # the top sits to the right of the foot


def test_feedback_counts_a_question_mark_answer_as_wrong():
    from handwriting.refusal import RefusalPolicy

    probs = np.array([[0.9, 0.05, 0.05], [0.3, 0.1, 0.6], [0.1, 0.8, 0.1]], np.float32)
    policy = RefusalPolicy(none_unit=True, none_threshold=0.5)
    right = synthetic_feedback.answered_right(lambda x: probs[: len(x)], np.zeros((3, 28, 28), np.uint8),
                                              np.array([0, 0, 0]), policy)
    assert right.tolist() == [True, False, False]  # right; "?" although 0 was the closest; another character


def test_synthetic_feedback_takes_a_mix_of_styles_the_models_misread(tmp_path):
    from training.keras_runtime import KerasRuntime

    mix = synthetic_feedback.parse_mix("emnist=6,looped_ell=2,crossed_zed=2", "letters")
    assert mix == {"emnist": 0.6, "looped_ell": 0.2, "crossed_zed": 0.2}
    model = small_cnn(52)
    model.save(tmp_path / "model.keras")
    x, y, _ = synthetic_feedback.make_character_feedback(40, "letters", KerasRuntime(tmp_path / "model.keras"), seed=0,
                                                         emnist_cache=FIXTURE, mix=mix)
    letters = labels_for("letters")
    ells = x[y == letters.index("l")]
    assert len(ells) >= 8 and (y == letters.index("Z")).sum() >= 8 and len(y) == 40
    looped, _ = synthetic_feedback.glyphs("looped_ell", 8, seed=1, task="letters")
    assert len({img.tobytes() for img in ells} & {img.tobytes() for img in looped}) == 8  # the styled ones, drawn
    for bad in ("emnist=7,slashed_zero=3", "mnist_redrawn=1", "emnist=-1,looped_ell=2"):  # no 0 among letters
        with pytest.raises(ValueError):
            synthetic_feedback.parse_mix(bad, "letters")


@pytest.mark.parametrize("style, task", [("slashed_zero", "digits"), ("slashed_zero", "all"), ("looped_ell", "all")])
def test_each_new_style_draws_its_character_through_the_apps_preprocessing(style, task):
    x, y = synthetic_feedback.glyphs(style, 6, seed=3, task=task)
    assert x.shape == (6, 28, 28) and x.dtype == np.uint8
    assert (x.reshape(6, -1).max(1) == 255).all() and (x.reshape(6, -1).mean(1) > 10).all()  # ink, white on black
    assert len({img.tobytes() for img in x}) == 6  # each drawn afresh
    assert set(y) == {labels_for(task).index(synthetic_feedback.STYLES[style][1])}
