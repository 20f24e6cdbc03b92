"""The "?" decision (handwriting/refusal.py): what a model folder's refusal.json makes of a model's output row."""

import json
from pathlib import Path

import numpy as np
import pytest

from handwriting.tasks import labels_for
from handwriting.refusal import REFUSAL_FILE, REFUSED, RefusalPolicy, RefusalPolicyError, decide, refused_mask

DIGITS = labels_for("digits")


def row(values: dict, units: int) -> np.ndarray:
    """A probability row: the given units, the rest of the mass spread evenly over the other units."""
    p = np.zeros(units)
    for k, v in values.items():
        p[k] = v
    rest = [k for k in range(units) if k not in values]
    p[rest] = (1 - sum(values.values())) / len(rest)
    return p


def test_a_folder_without_refusal_json_never_refuses(tmp_path):
    policy = RefusalPolicy.load(tmp_path)
    assert policy == RefusalPolicy.never()
    answer = decide(row({5: 0.12}, 10), DIGITS, policy)  # a flat, unsure row is still answered
    assert answer.label == "5" and not answer.refused
    assert answer.top[0] == ("5", pytest.approx(0.12))
    assert len(answer.top) == 3 and answer.none_probability == 0.0


def test_none_unit_above_its_threshold_answers_question_mark_and_keeps_the_top_three(tmp_path):
    RefusalPolicy(none_unit=True, none_threshold=0.4).save(tmp_path)
    policy = RefusalPolicy.load(tmp_path)
    p = row({10: 0.6, 5: 0.2, 4: 0.1, 9: 0.05}, 11)
    answer = decide(p, DIGITS, policy)
    assert answer.label == REFUSED and answer.refused
    assert [label for label, _ in answer.top] == ["5", "4", "9"]  # real characters only, never "none"
    assert answer.top[0][1] == pytest.approx(0.2)
    assert answer.none_probability == pytest.approx(0.6)


def test_the_closest_characters_of_a_refused_picture_compare_among_themselves():
    answer = decide(row({10: 0.8, 5: 0.1, 4: 0.05, 9: 0.03}, 11), DIGITS, RefusalPolicy(none_unit=True, none_threshold=0.5))
    assert answer.refused
    assert [(c, round(p, 3)) for c, p in answer.top_given_character()] == [("5", 0.5), ("4", 0.25), ("9", 0.15)]
    plain = decide(row({5: 0.7}, 10), DIGITS, RefusalPolicy.never())
    assert plain.top_given_character() == plain.top


def test_none_unit_below_its_threshold_answers_the_character():
    policy = RefusalPolicy(none_unit=True, none_threshold=0.9)
    answer = decide(row({10: 0.6, 5: 0.3}, 11), DIGITS, policy)
    assert answer.label == "5" and not answer.refused


def test_low_confidence_refuses_even_without_a_none_unit():
    policy = RefusalPolicy(min_confidence=0.5)
    assert decide(row({3: 0.45}, 10), DIGITS, policy).label == REFUSED
    assert decide(row({3: 0.55}, 10), DIGITS, policy).label == "3"


def test_refused_mask_agrees_with_decide_row_by_row():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(11, 0.3), size=200)
    policy = RefusalPolicy(none_unit=True, none_threshold=0.3, min_confidence=0.25)
    assert refused_mask(p, policy).tolist() == [decide(r, DIGITS, policy).refused for r in p]
    assert 0 < refused_mask(p, policy).sum() < 200


def test_output_length_must_match_the_policy():
    with pytest.raises(ValueError, match="11 outputs"):
        decide(np.full(11, 1 / 11), DIGITS, RefusalPolicy.never())
    with pytest.raises(ValueError, match="plus a none unit"):
        decide(np.full(10, 0.1), DIGITS, RefusalPolicy(none_unit=True, none_threshold=0.5))


def test_the_saved_policy_reads_back_with_its_calibration_details(tmp_path):
    saved = RefusalPolicy(none_unit=True, none_threshold=0.37, min_confidence=0.1,
                          details={"method": "both", "calibration": {"validation_real_refused": 0.005}})
    saved.save(tmp_path)
    data = json.loads((tmp_path / REFUSAL_FILE).read_text())
    assert data["format"] == 1 and data["none_unit"] is True and data["method"] == "both"
    loaded = RefusalPolicy.load(tmp_path)
    assert loaded == saved and loaded.details["calibration"]["validation_real_refused"] == 0.005


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"format": 2, "none_unit": true}',
                                     '{"format": 1, "none_unit": true, "none_threshold": 7}',
                                     '{"format": 1, "none_threshold": "high"}'])
def test_a_damaged_refusal_json_is_a_one_line_error(tmp_path, content):
    (tmp_path / REFUSAL_FILE).write_text(content)
    with pytest.raises(RefusalPolicyError, match=REFUSAL_FILE) as error:
        RefusalPolicy.load(tmp_path)
    assert "\n" not in str(error.value)


def test_bundled_model_folders_decide_with_their_own_outputs():
    """Every bundled folder's policy fits its model's output units (N, or N+1 with the none unit)."""
    from handwriting.model_folder import LITERT_FILE, MODELS_DIR
    from handwriting.runtime import LiteRTRuntime

    for task in ("digits", "letters", "all"):
        folder = MODELS_DIR / task
        policy = RefusalPolicy.load(folder)
        runtime = LiteRTRuntime(folder / LITERT_FILE)
        assert runtime.num_classes == policy.output_units(labels_for(task)), task
        blank_stroke = np.zeros((1, 28, 28), np.float32)
        blank_stroke[0, 4:24, 13:15] = 1.0  # a plain vertical stroke: a one, an I or an l
        answer = decide(runtime(blank_stroke)[0], labels_for(task), policy)
        assert answer.label in labels_for(task) + (REFUSED,)
        assert len(answer.top) == 3


# ---------------------------------------------------------------------------------------------------
# What the "none" unit learns from, and how it is added to a network


def test_doodle_families_for_training_and_for_evaluation_never_mix_and_reach_the_model_as_sketches():
    from training import doodles

    assert not set(doodles.TRAIN_FAMILIES) & set(doodles.EVAL_FAMILIES)
    assert not set(doodles.MORE_TRAIN_FAMILIES) & (set(doodles.EVAL_FAMILIES) | set(doodles.TRAIN_FAMILIES))
    assert set(doodles.EVAL_FAMILIES) == {"scribble", "face", "star", "spiral", "hatching", "tick", "arrow"}
    x, family = doodles.doodle_images(doodles.EVAL_FAMILIES, 14, seed=3)
    assert x.shape == (14, 28, 28) and x.dtype == np.uint8
    assert sorted(set(family.tolist())) == list(range(7))
    assert (x.reshape(14, -1).max(1) > 200).all()  # ink, white on black, as to_model_input makes it
    assert (x[:, :2].max() < 30) and (x[:, :, :2].max() < 30)  # centred in the frame, margins empty


def test_the_everyday_object_doodles_join_the_training_families_only_when_asked(tmp_path, monkeypatch):
    from training import doodles, none_data

    x, family = doodles.doodle_images(doodles.MORE_TRAIN_FAMILIES, 14, seed=5)
    assert x.shape == (14, 28, 28) and sorted(set(family.tolist())) == list(range(7))
    assert (x.reshape(14, -1).max(1) > 200).all()
    monkeypatch.setattr(none_data, "DOODLE_CACHE", tmp_path / "doodles")
    _, plain = none_data.doodles("train", 48, seed=1)
    _, more = none_data.doodles("train+", 48, seed=1)
    assert plain.max() == len(doodles.TRAIN_FAMILIES) - 1  # family indices in the order drawn
    assert more.max() == len(doodles.TRAIN_FAMILIES) + len(doodles.MORE_TRAIN_FAMILIES) - 1
    assert len(list((tmp_path / "doodles").iterdir())) == 2  # cached apart


def test_elastic_wobble_warps_each_image_on_its_own_inside_a_data_pipeline():
    """Keras's RandomElasticTransform copied one image of a batch onto others inside tf.data; this one must not."""
    import tensorflow as tf

    from training.augment import ElasticWobble

    images = np.zeros((8, 28, 28), np.float32)
    for k, at in enumerate((4, 10, 16, 22)):  # each image a different bar, 6 px from the next
        images[k, at : at + 2, 4:24] = 1.0
        images[k + 4, 4:24, at : at + 2] = 1.0
    wobble = ElasticWobble(strength=0.8)
    data = tf.data.Dataset.from_tensor_slices(images).batch(8).map(lambda b: wobble(b[..., None], training=True))
    out = next(iter(data)).numpy()[..., 0]
    similarity = out.reshape(8, -1) @ images.reshape(8, -1).T
    assert (similarity.argmax(1) == np.arange(8)).all()
    assert not np.allclose(out, images)


def untrained_head(features: int, pixels: bool):
    """A none head as `refusal_head.train` builds it (weights untrained), with or without its pixel branch."""
    import keras

    from training.refusal_head import HEAD_UNITS, pixel_branch

    feats, image = keras.Input((features,)), keras.Input((28, 28, 1))
    hidden_in = keras.layers.Concatenate()([feats, pixel_branch()(image)]) if pixels else feats
    none = keras.layers.Dense(1)(keras.layers.Dense(HEAD_UNITS, activation="relu")(hidden_in))
    return keras.Model([feats, image] if pixels else [feats], none)


@pytest.mark.parametrize("pixels", [False, True], ids=["features", "features-and-pixels"])
def test_a_none_head_leaves_the_networks_answers_among_the_characters_as_they_were(tmp_path, pixels):
    import json

    import keras

    from training.model import build_model
    from training.refusal_head import assembled

    keras.utils.set_random_seed(1)
    base = tmp_path / "base"
    base.mkdir()
    network = build_model(10)
    network.save(base / "model.keras")
    run = tmp_path / "head"
    run.mkdir()
    untrained_head(64, pixels).save(run / "none_head.keras")
    (run / "head_record.json").write_text(json.dumps({"rich_features": False, "pixels": pixels}))
    model = assembled(base, run)
    x = np.random.default_rng(0).random((32, 28, 28, 1)).astype(np.float32)
    before, after = network.predict(x, verbose=0), model.predict(x, verbose=0)
    assert after.shape == (32, 11)
    np.testing.assert_allclose(after.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(after[:, :10] / after[:, :10].sum(1, keepdims=True), before, rtol=1e-4, atol=1e-6)


def test_a_photo_of_a_training_character_is_dark_pen_on_paper_and_reaches_the_model_as_that_character():
    from handwriting.preprocessing import to_model_input
    from training.photo_renders import photo_of, restyled

    with np.load(Path(__file__).parent / "fixtures" / "mnist_test_200.npz") as f:
        digits, labels = f["x"], f["y"]
    rng = np.random.default_rng(0)
    for digit in digits[:10]:
        photo = photo_of(digit, rng)
        assert photo.dtype == np.uint8 and 20 <= photo.shape[0] <= 60
        assert photo.min() < np.median(photo) - 20  # darker ink on lighter paper (some pens are faint)
    x, kept = restyled(digits, "photo", seed=1)
    assert kept.mean() >= 0.9 and x.dtype == np.uint8 and not x[~kept].any()  # a photo too faint to read is left out
    clean = np.stack([to_model_input(d) for d in digits]).reshape(len(digits), -1)
    shot = x[kept].reshape(int(kept.sum()), -1).astype(np.float32) / 255
    similarity = (shot / np.linalg.norm(shot, axis=1, keepdims=True)) @ (clean / np.linalg.norm(clean, axis=1, keepdims=True)).T
    assert similarity[np.arange(len(shot)), np.flatnonzero(kept)].mean() > 0.75  # close to its own character
    assert (labels[similarity.argmax(1)] == labels[kept]).mean() >= 0.9  # and most like a character of its class


def test_a_character_redrawn_on_the_pad_is_crisp_strokes_of_one_pen_and_stays_that_character():
    from handwriting.preprocessing import to_model_input
    from training.photo_renders import canvas_of, restyled

    with np.load(Path(__file__).parent / "fixtures" / "mnist_test_200.npz") as f:
        digits, labels = f["x"], f["y"]
    pad = canvas_of(digits[0], np.random.default_rng(0))
    assert set(np.unique(pad)) == {0, 255}  # one pen, no soft edges, as a drawing on the sketchpad
    x, kept = restyled(digits, "canvas", seed=2)
    assert kept.all()
    clean = np.stack([to_model_input(d) for d in digits]).reshape(len(digits), -1)
    drawn = x.reshape(len(digits), -1).astype(np.float32) / 255
    similarity = (drawn / np.linalg.norm(drawn, axis=1, keepdims=True)) @ (clean / np.linalg.norm(clean, axis=1, keepdims=True)).T
    assert (labels[similarity.argmax(1)] == labels).mean() >= 0.9


@pytest.mark.parametrize("pixels", [False, True], ids=["features", "features-and-pixels"])
def test_the_networks_inside_a_served_ensemble_with_a_none_head_come_back_out_exactly(tmp_path, pixels):
    import json

    import keras

    from training.ensemble import build_ensemble
    from training.model import build_model
    from training.refusal_head import assembled
    from training.served_network import plain_networks

    members = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        members.append(build_model(10, name=f"m{seed}"))
        members[-1].save(tmp_path / f"m{seed}.keras")
    base = tmp_path / "base"
    base.mkdir()
    build_ensemble([tmp_path / "m1.keras", tmp_path / "m2.keras"], 10).save(base / "model.keras")
    run = tmp_path / "head"
    run.mkdir()
    untrained_head(2 * 64, pixels).save(run / "none_head.keras")
    (run / "head_record.json").write_text(json.dumps({"rich_features": False, "pixels": pixels}))
    served = tmp_path / "served"
    served.mkdir()
    assembled(base, run).save(served / "model.keras")
    back = plain_networks(served)
    x = np.random.default_rng(0).random((16, 28, 28, 1)).astype(np.float32)
    assert len(back) == 2
    for original, recovered in zip(members, back):
        np.testing.assert_allclose(recovered.predict(x, verbose=0), original.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["none", "confidence"])
def test_line_thresholds_are_the_same_rule_calibrated_to_a_smaller_budget(method):
    from training.evaluate_refusal import calibrate, with_line_thresholds

    rng = np.random.default_rng(0)
    none = np.concatenate([rng.beta(1, 30, 5000), rng.beta(30, 1, 1000)])  # real characters, then negatives
    chars = rng.dirichlet(np.ones(10), len(none)) * (1 - none)[:, None]
    probs = np.column_stack([chars, none])
    real = np.arange(len(none)) < 5000
    policy = with_line_thresholds(calibrate(probs, real, method, True, 0.005), probs, real, 0.001)
    line = policy.for_lines()
    assert line.details["validation_real_refused"] == pytest.approx(0.001, abs=0.0005)
    assert policy.details["calibration"]["validation_real_refused"] == pytest.approx(0.005, abs=0.001)
    if method == "none":
        assert line.none_threshold > policy.none_threshold and line.min_confidence == policy.min_confidence
    else:
        assert line.min_confidence < policy.min_confidence and line.none_threshold == policy.none_threshold


def test_cached_evaluation_sets_are_made_again_when_the_preprocessing_changes(tmp_path, monkeypatch):
    from training import evaluate_refusal

    monkeypatch.setattr(evaluate_refusal, "CACHE", tmp_path)
    made = []

    def make():
        made.append(1)
        return {"x": np.full((2, 28, 28), len(made), np.uint8)}

    assert evaluate_refusal._cached("set", make)["x"][0, 0, 0] == 1
    assert evaluate_refusal._cached("set", make)["x"][0, 0, 0] == 1 and len(made) == 1  # read back
    monkeypatch.setattr(evaluate_refusal, "preprocessing_digest", lambda: "otherpreprocessing")
    assert evaluate_refusal._cached("set", make)["x"][0, 0, 0] == 2 and len(made) == 2  # made again


def refusal_model_with_validation(tmp_path, monkeypatch) -> Path:
    """A tiny digits model with a none unit (served at none >= 0.5), its validation.npz, and evaluation sets
    made of the same pictures: what evaluate_refusal calibrates and measures on."""
    from handwriting.refusal import RefusalPolicy
    from tiny_models import write_folder
    from training import evaluate_refusal
    from training.eval_sets import EvalSet

    folder = write_folder(tmp_path / "model", outputs=11)  # ten digits and the none unit
    RefusalPolicy(none_unit=True, none_threshold=0.5, details={"method": "none"}).save(folder)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (400, 28, 28), dtype=np.uint8)
    np.savez(folder / "validation.npz", x=x, y=np.where(np.arange(400) < 300, np.arange(400) % 10, 10))
    real = EvalSet("real", x[:200].astype(np.float32) / 255.0, np.arange(200) % 10, "the validation pictures again")
    monkeypatch.setattr(evaluate_refusal, "real_sets", lambda task, data_dir=None: [real])
    monkeypatch.setattr(evaluate_refusal, "negative_sets", lambda task, data_dir=None, cache=None: [
        evaluate_refusal.NegativeSet("doodles", x[300:].astype(np.float32) / 255.0, None, [], "the negatives")])
    return folder


def test_a_sweep_sets_the_models_own_rule_on_validation_for_each_budget_and_measures_each(tmp_path, monkeypatch):
    from handwriting.refusal import RefusalPolicy
    from training import evaluate_refusal

    folder = refusal_model_with_validation(tmp_path, monkeypatch)
    out = tmp_path / "sweep.json"
    evaluate_refusal.main(["digits", "--model-dir", str(folder), "--sweep", "0.02", "0.2", "--json", str(out)])

    results = json.loads(out.read_text())
    assert list(results) == ["none @ 0.02", "none @ 0.2"]  # the model's own rule, each budget
    small, large = results["none @ 0.02"], results["none @ 0.2"]
    for row, budget in ((small, 0.02), (large, 0.2)):
        assert row["policy"]["calibration"]["validation_real_refused"] == pytest.approx(budget, abs=0.01)
    assert large["policy"]["none_threshold"] < small["policy"]["none_threshold"]
    assert large["real"]["real"]["refused"] > small["real"]["real"]["refused"]
    assert RefusalPolicy.load(folder).none_threshold == 0.5  # the served thresholds are left as they were


def test_calibrate_writes_the_rule_set_on_validation_with_its_thresholds_for_lines(tmp_path, monkeypatch):
    from handwriting.refusal import RefusalPolicy
    from training import evaluate_refusal

    folder = refusal_model_with_validation(tmp_path, monkeypatch)
    out = tmp_path / "calibrated.json"
    evaluate_refusal.main(["digits", "--model-dir", str(folder), "--calibrate", "none", "--budget", "0.1",
                           "--line-budget", "0.2", "--json", str(out)])

    results = json.loads(out.read_text())
    assert list(results) == ["none"]
    written = RefusalPolicy.load(folder)
    assert written.none_threshold == results["none"]["policy"]["none_threshold"] != 0.5
    assert written.details["calibration"]["validation_real_refused"] == pytest.approx(0.1, abs=0.01)
    assert written.for_lines().none_threshold < written.none_threshold  # a line refuses more: its budget is larger
