"""The copies test-time averaging reads: shifted and scaled pictures keep their ink where expected."""

import numpy as np

from training.evaluate_tta import VARIANTS, scaled, shifted


def picture():
    x = np.zeros((1, 28, 28), np.float32)
    x[0, 10:18, 12:16] = 1.0
    return x


def test_a_shift_moves_the_ink_by_one_pixel_and_keeps_all_of_it():
    moved = shifted(picture(), 1, -1)
    rows, cols = np.nonzero(moved[0])
    assert (rows.min(), cols.min()) == (9, 13) and moved.sum() == picture().sum()


def test_scaling_grows_or_shrinks_the_ink_about_the_centre():
    small, large = scaled(picture(), 0.9), scaled(picture(), 1.1)
    assert small.shape == large.shape == (1, 28, 28)
    assert small.sum() < picture().sum() < large.sum()
    for z in (small, large):
        rows, cols = np.nonzero(z[0] > 0.5)
        assert abs(rows.mean() - 13.5) < 1.0 and abs(cols.mean() - 13.5) < 1.0


def test_every_variant_reads_the_picture_as_it_is_first():
    for copies in VARIANTS.values():
        assert np.array_equal(copies[0](picture()), picture())
