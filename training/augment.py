"""Training-time augmentation: the rotated/shifted/zoomed MNIST of the original design.

Keras's Random* layers fill with reflections by default, which paints ghost strokes into the corners;
every layer here fills with the background (0) instead.
"""

import keras
from keras import layers


def digit_augmenter(rotation_deg: float = 10.0, zoom: float = 0.10, shift: float = 0.10, seed: int = 0):
    """A Keras pipeline applied to batches of 28x28x1 images during training only."""
    fill = dict(fill_mode="constant", fill_value=0.0)
    return keras.Sequential(
        [
            layers.RandomRotation(rotation_deg / 360.0, seed=seed, **fill),
            layers.RandomZoom(zoom, zoom, seed=seed + 1, **fill),
            layers.RandomTranslation(shift, shift, seed=seed + 2, **fill),
        ],
        name="augment",
    )
