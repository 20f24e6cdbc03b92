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
