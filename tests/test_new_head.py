"""`retrain --learn new-head`: the "?" head trained again by the served one's recipe, the feedback among its
characters (`training.new_head`). Small data: the 200 committed MNIST digits and generated doodles stand in
for the task's characters and its "none" pictures; a style the head never saw as a character is the feedback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handwriting.model_folder import write_training
from handwriting.refusal import RefusalPolicy, refused_mask
from training import doodles, new_head, refusal_head

FIXTURE = Path(__file__).parent / "fixtures" / "mnist_test_200.npz"
BUNDLED = Path(__file__).parent.parent / "models" / "digits"
RECIPE = {"task": "digits", "epochs": 30, "rich_features": False, "augmented": False, "balanced": False,
          "styles": [], "doodles": 0, "pixels": False, "doodles_from": "train", "seed": 0}
SHIPPED = RefusalPolicy(none_unit=True, none_threshold=1.0, min_confidence=0.5, details={
    "method": "confidence", "calibration": {"real_refusal_budget": 0.02}, "in_a_line": {"real_refusal_budget": 0.01}})


def drawn(family: str, n: int, seed: int) -> np.ndarray:
    return doodles.doodle_images({family: doodles.FAMILIES[family]}, n, seed)[0]


@pytest.fixture
def small_head_data(monkeypatch):
    """refusal_head.head_data in miniature: 120 digits against hearts and grids; validation: the other 80 digits
    and fresh hearts and grids (label -1: "none")."""
    with np.load(FIXTURE) as f:
        x, y = f["x"], f["y"].astype(np.int64)
    negatives = np.concatenate([drawn("heart", 60, 1), drawn("grid", 60, 2)])
    held = np.concatenate([drawn("heart", 20, 3), drawn("grid", 20, 4)])

    def head_data(cache=None, seed=0, positives=0, doodle_n=0, task="all", doodles_from="train"):
        train_x = np.concatenate([x[:120], negatives])
        none = np.concatenate([np.zeros(120, bool), np.ones(len(negatives), bool)])
        train_y = np.concatenate([y[:120], np.full(len(negatives), -1)])
        xv = np.concatenate([x[120:], held])
        yv = np.concatenate([y[120:], np.full(len(held), -1)])
        return train_x, none, train_y, xv, yv, yv.copy(), "120 fixture digits against hearts and grids"

    monkeypatch.setattr(refusal_head, "head_data", head_data)


def served_model(folder: Path):
    """The bundled digits model (its networks' features tell shapes apart, as a served model's do), in a folder
    whose record gives the small recipe above."""
    import keras

    folder.mkdir()
    write_training(folder, {"task": "digits", "none_unit": {**RECIPE, "outputs": [*"0123456789", "none"]}})
    return keras.saving.load_model(BUNDLED / "model.keras", compile=False)


def none_share(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x.astype(np.float32)[..., None] / 255.0, verbose=0)[:, -1]


def test_the_recipe_comes_from_the_served_heads_record_and_labels_map_to_all_characters(tmp_path):
    write_training(tmp_path, {"none_unit": {**RECIPE, "styles": ["photo"], "doodles": 500}})
    recipe = new_head.head_recipe(tmp_path)
    assert recipe["styles"] == ("photo",) and recipe["doodle_n"] == 500 and recipe["task"] == "digits"
    write_training(tmp_path, {"task": "digits"})
    with pytest.raises(ValueError, match="how its"):  # no record: the head cannot be made again
        new_head.head_recipe(tmp_path)
    letters_a_and_z = np.array([26, 25])  # "a" and "Z" among the letters
    assert new_head.in_all_labels(letters_a_and_z, "letters").tolist() == [36, 35]
    assert new_head.in_all_labels(np.array([3]), "digits").tolist() == [3]


def test_a_head_trained_again_with_the_feedback_accepts_that_style_and_keeps_refusing_the_rest(tmp_path, small_head_data):
    served = served_model(tmp_path / "served")
    style = drawn("house", 90, 5)  # a "style" people say is a 4, which the head never saw as a character
    feedback_x, feedback_y = style[:60], np.full(60, 4)
    with_feedback, policy, record = new_head.new_head(served, tmp_path / "served", "digits", SHIPPED,
                                                      feedback_x, feedback_y, "houses said to be 4s", tmp_path / "with")
    without, _, _ = new_head.new_head(served, tmp_path / "served", "digits", SHIPPED, feedback_x[:0], feedback_y[:0],
                                      "no feedback", tmp_path / "without")
    unseen_style = style[60:]
    assert none_share(with_feedback, unseen_style).mean() < none_share(without, unseen_style).mean() - 0.2
    held_doodles = np.concatenate([drawn("heart", 30, 8), drawn("grid", 30, 9)])
    assert none_share(with_feedback, held_doodles).mean() > 0.5  # what it learnt as "none" stays so
    assert "houses said to be 4s" in record["data"]

    with np.load(FIXTURE) as f:  # the networks are the served model's: the characters keep their order
        x = f["x"][120:].astype(np.float32)[..., None] / 255.0
    old, new = served.predict(x, verbose=0)[:, :10], with_feedback.predict(x, verbose=0)[:, :10]
    shown = (old.sum(1) > 1e-3) & (new.sum(1) > 1e-3)  # where "none" left the characters something to share
    assert shown.sum() >= 40
    np.testing.assert_allclose(new[shown] / new[shown].sum(1, keepdims=True),
                               old[shown] / old[shown].sum(1, keepdims=True), rtol=1e-4, atol=1e-6)

    # calibrated as the shipped policy was: the same rule and budgets, on the head's validation split
    assert policy.details["method"] == "confidence" and policy.min_confidence != SHIPPED.min_confidence
    assert policy.details["calibration"]["real_refusal_budget"] == 0.02
    assert policy.details["in_a_line"]["real_refusal_budget"] == 0.01
    vx, vy = refusal_head.validation_for("digits", tmp_path / "with" / "head")
    probs = with_feedback.predict(vx[..., None], verbose=0)
    assert refused_mask(probs[vy < 10], policy).mean() <= 0.02 + 1 / (vy < 10).sum()


def test_the_card_of_a_candidate_whose_head_was_trained_again_names_the_retrain_that_makes_it_not_the_head_recipe():
    from training.model_card import _none_head_lines

    head = {"head": "Dense(128, relu) -> Dense(1)", "out": "runs/retrain/x/new_head/head", "rich_features": True}
    metrics = {"task": "digits", "refusal": {"policy": {"method": "confidence"}}}
    shipped = _none_head_lines(metrics, {"none_unit": head})
    assert any(line.startswith("python -m training.refusal_head train") for line in shipped)
    command = "python -m training.retrain --task digits --feedback fb.npz --learn new-head"
    again = _none_head_lines(metrics, {"none_unit": {**head, "trained_by": command}})
    assert again == [f"# the none unit was trained again, with the feedback, by: {command}"]


def test_pictures_people_said_are_no_character_are_learnt_as_none(tmp_path, small_head_data):
    served = served_model(tmp_path / "served")
    arrows = drawn("arrow", 90, 6)  # a doodle the head never saw as "none"
    said_none = np.full(60, 10)  # the digits task's len(labels): "?" feedback
    with_feedback, _, record = new_head.new_head(served, tmp_path / "served", "digits", SHIPPED, arrows[:60],
                                                 said_none, "arrows said to be no digit", tmp_path / "with")
    without, _, _ = new_head.new_head(served, tmp_path / "served", "digits", SHIPPED, arrows[:0], said_none[:0],
                                      "no feedback", tmp_path / "without")
    unseen = arrows[60:]
    assert none_share(with_feedback, unseen).mean() > none_share(without, unseen).mean() + 0.2
    assert "arrows said to be no digit: 0 as characters, 60 said to be none of them as none" in record["data"]
    assert new_head.in_all_labels(np.array([10, 3]), "digits").tolist() == [-1, 3]
