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


class StrokeStyle(layers.Layer):
    """What other formats do to a digit once it is 28x28: each image, with its own chance, gets strokes
    made thicker (dilation) or thinner (erosion), low resolution (shrunk to 10-16 px, sometimes binarised,
    and blown up again: blocky, thick strokes as from an upscaled binary scan) or a blur."""

    def __init__(self, p_thick=0.2, p_thin=0.15, p_lowres=0.15, p_blur=0.1, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.p = (p_thick, p_thin, p_lowres, p_blur)
        self.seed = seed

    def call(self, images, training=True):
        import tensorflow as tf

        if not training:
            return images
        n = tf.shape(images)[0]
        pick = lambda p: tf.random.uniform((n, 1, 1, 1)) < p  # noqa: E731
        thick = tf.nn.max_pool2d(images, 2, 1, "SAME")
        thin = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
        small = tf.random.uniform((), 10, 17, dtype=tf.int32)
        low = tf.image.resize(images, tf.stack([small, small]), antialias=True)
        low = tf.where(tf.random.uniform(()) < 0.5, tf.cast(low > 0.35, tf.float32), low)
        low = tf.image.resize(low, (28, 28), method="bilinear")
        kernel = tf.constant([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])[:, :, None, None] / 16.0
        blurred = tf.nn.conv2d(images, kernel, 1, "SAME")
        out = tf.where(pick(self.p[0]), thick, images)
        out = tf.where(pick(self.p[1]), thin, out)
        out = tf.where(pick(self.p[2]), low, out)
        out = tf.where(pick(self.p[3]), blurred, out)
        return tf.clip_by_value(out, 0.0, 1.0)


class ElasticWobble(layers.Layer):
    """Elastic wobble: each image warped by its own smooth random displacement field (a coarse grid of
    random shifts, blown up bilinearly), sampled bilinearly; outside the image is background.
    (Keras's RandomElasticTransform mixes images of a batch when it runs inside tf.data.)"""

    def __init__(self, strength: float = 1.5, grid: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.strength, self.grid = strength, grid

    def call(self, images, training=True):
        import tensorflow as tf

        if not training:
            return images
        n, h, w = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
        coarse = tf.random.normal((n, self.grid, self.grid, 2)) * self.strength
        flow = tf.image.resize(coarse, tf.stack([h, w]), method="bicubic")
        rows, cols = tf.meshgrid(tf.range(h, dtype=tf.float32), tf.range(w, dtype=tf.float32), indexing="ij")
        r = rows[None] + flow[..., 0]
        c = cols[None] + flow[..., 1]
        padded = tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]])  # a border of background to sample outside
        r = tf.clip_by_value(r + 1.0, 0.0, tf.cast(h, tf.float32) + 1.0)
        c = tf.clip_by_value(c + 1.0, 0.0, tf.cast(w, tf.float32) + 1.0)
        r0, c0 = tf.floor(r), tf.floor(c)
        fr, fc = r - r0, c - c0
        r0 = tf.clip_by_value(tf.cast(r0, tf.int32), 0, h)
        c0 = tf.clip_by_value(tf.cast(c0, tf.int32), 0, w)
        batch = tf.broadcast_to(tf.range(n)[:, None, None], tf.shape(r0))

        def at(dr, dc):
            return tf.gather_nd(padded, tf.stack([batch, r0 + dr, c0 + dc], -1))

        out = ((1 - fr) * (1 - fc) * at(0, 0) + (1 - fr) * fc * at(0, 1) + fr * (1 - fc) * at(1, 0) + fr * fc * at(1, 1))
        return out[..., None]


def writer_augmenter(rotation_deg: float = 10.0, zoom: float = 0.10, shift: float = 0.08, aspect: float = 0.25,
                     shear: float = 0.25, elastic: float = 0.8, seed: int = 0):
    """`digit_augmenter` plus what other hands and formats do: aspect ratio changed (each side zoomed on
    its own, as a digit stretched to fill its box), slant (shear), elastic wobble, and `StrokeStyle`."""
    fill = dict(fill_mode="constant", fill_value=0.0)
    return keras.Sequential(
        [
            layers.RandomShear(x_factor=shear, y_factor=0.0, seed=seed, **fill),
            layers.RandomRotation(rotation_deg / 360.0, seed=seed + 1, **fill),
            layers.RandomZoom((-zoom, zoom + aspect), (-zoom, zoom + aspect), seed=seed + 2, **fill),
            layers.RandomTranslation(shift, shift, seed=seed + 3, **fill),
            ElasticWobble(strength=elastic),
            StrokeStyle(seed=seed + 5),
        ],
        name="writer_augment",
    )
