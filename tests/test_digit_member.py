"""The extra digits ensemble member's data (training.train_digit_member): digits only, never a validation
image, and a share re-made as photos and pad drawings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.train_digit_member import member_data

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "emnist_preprocessed_310.npz"


def test_member_data_is_digits_from_the_training_part_plus_restyled_copies():
    with np.load(FIXTURE) as d:
        digits = d["y"] < 10
        train_digits = {img.tobytes() for img in d["x"][digits & ~d["validation"]]}
        val_digits = {img.tobytes() for img in d["x"][digits & d["validation"]]}
    x, y, xv, yv, description = member_data(cache=FIXTURE, seed=0, restyled_share=0.5)
    assert y.max() < 10 and yv.max() < 10
    as_bytes = [img.tobytes() for img in x]
    originals = [b for b in as_bytes if b in train_digits]
    assert len(originals) == len(train_digits)  # every training-part digit once as it is
    assert not set(as_bytes) & val_digits  # no validation digit, as it is or re-made
    assert {img.tobytes() for img in xv} == val_digits
    copies = len(x) - len(originals)
    assert copies >= 0.8 * (len(train_digits) // 2)  # re-made ones (a few too faint to photograph may drop)
    assert "re-made" in description


def test_a_member_with_its_own_recipe_is_named_and_reproduced_in_the_ensembles_card():
    from training.ensemble import ensemble_record
    from training.model_card import _ensemble_text, _reproduce

    def member(seed, data, command=None):
        record = {"folder": f"runs/m{seed}", "task": "digits", "data": data, "best_epoch": 5, "best_val_accuracy": 0.99,
                  "training_seconds": 10.0, "train_size": 100, "settings": {"epochs": 5, "seed": seed},
                  "results": {"mnist_test": 0.99}}
        return {**record, "command": command} if command else record

    own = "python -m training.train_digit_member --out runs/digit_member_emnist --epochs 12 --seed 3"
    record = ensemble_record([member(0, "MNIST"), member(3, "MNIST + EMNIST digits", own)])
    assert record["data"] == "member 0: MNIST; member 1: MNIST + EMNIST digits"
    metrics = {"task": "digits", "version": "9.9.9", "results": {"mnist_test": {"accuracy": 0.995}}}
    text = _ensemble_text(metrics, record)
    assert "one original CNN (member 0" in text and "from other hands (`training.train_digit_member`) (member 1" in text
    reproduce = _reproduce(metrics, record)
    assert "python -m training.train digits --epochs 5 --seed 0 --out-dir runs/digits_s0" in reproduce
    assert own in reproduce
    assert "python -m training.ensemble digits runs/digits_s0 runs/digit_member_emnist --out models/digits" in reproduce
    same = ensemble_record([member(0, "MNIST"), member(1, "MNIST")])
    assert same["data"] == "MNIST"  # one data line when every member learnt from the same
