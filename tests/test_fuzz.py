"""Fuzzing the one preprocessing path: mutated PNG/JPEG files and random editor values.

Whatever arrives, `to_model_input` either returns a valid 28x28 image or raises `InvalidImageError`
(whose message the user sees). Any other exception would be a bare "Error" in the page, and a hang
would block a worker: hypothesis's deadline is the hang guard, not a speed target.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import imagegen
from handwriting.preprocessing import InvalidImageError, to_model_input

FUZZ = settings(
    max_examples=700,
    deadline=3000,  # ms: a hang guard on a busy 2-core machine, not a speed target
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same cases every run: CI failures reproduce
)


def check(value) -> None:
    try:
        out = to_model_input(value)
    except InvalidImageError as exc:
        assert str(exc)  # a message for the user
        return
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


@pytest.fixture(scope="module")
def seeds(mnist_samples):
    """Valid files to mutate: PNGs (grey, RGBA canvas) and JPEGs (photo, CMYK)."""
    x = mnist_samples[0]
    return [
        imagegen.encode(imagegen.dark_on_white(x[5], 64)),
        imagegen.encode(imagegen.canvas_rgba(x[77], 64)),
        imagegen.encode(imagegen.photo(x[120], size=(160, 120)), "JPEG", quality=60),
        imagegen.cmyk_jpeg(x[33]),
    ]


def mutate(data: bytes, edits: list[tuple[int, int, int]], cut: int | None) -> bytes:
    """Overwrite, insert or delete bytes at the given places, then maybe truncate."""
    buf = bytearray(data)
    for kind, pos, value in edits:
        pos %= max(len(buf), 1)
        if kind == 0:
            buf[pos] = value
        elif kind == 1:
            buf.insert(pos, value)
        elif len(buf) > 1:
            del buf[pos]
    return bytes(buf[:cut] if cut else buf)


@pytest.mark.slow
@settings(FUZZ, max_examples=2000)
@given(
    which=st.integers(0, 3),
    edits=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 255)), max_size=12),
    cut=st.one_of(st.none(), st.integers(1, 5000)),
)
def test_mutated_files_give_an_image_or_a_clear_error(seeds, which, edits, cut):
    check(mutate(seeds[which], edits, cut))


def png_with_header_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's shape), CRC intact."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@FUZZ
@given(width=st.integers(8, 2**31 - 1), height=st.integers(8, 2**31 - 1))
def test_claimed_sizes_are_checked_before_decoding(width, height):
    data = png_with_header_size(width, height)
    if width * height > 50_000_000:
        with pytest.raises(InvalidImageError, match="too large"):
            to_model_input(data)
    else:
        check(data)  # small claims: the short data stream fails cleanly as damaged


images = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.text(max_size=20),
    arrays(st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int32, np.bool_]),
           st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 2, 3, 4, 5])),
           elements=None),
    arrays(np.uint8, st.tuples(st.integers(0, 40), st.integers(0, 40))),
    st.integers(),
    st.lists(st.integers(0, 255), max_size=5),
)


@pytest.mark.slow
@FUZZ
@given(
    background=images,
    layers=st.one_of(st.none(), st.lists(images, max_size=3)),
    composite=images,
    extra=st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
def test_random_editor_values_give_an_image_or_a_clear_error(background, layers, composite, extra):
    check({"background": background, "layers": layers, "composite": composite, **extra})


@FUZZ
@given(arrays(np.float64, st.tuples(st.integers(8, 60), st.integers(8, 60)),
              elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_random_float_arrays_give_an_image_or_a_clear_error(array):
    check(array)
