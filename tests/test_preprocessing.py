"""The one preprocessing path: every input form, polarity, photo conditions and bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

import imagegen
from handwriting.preprocessing import BlankImageError, InvalidImageError, to_grey, to_model_input
from training.evaluate_edge_lines import without_edge_lines  # the upload path without the ruled-line step


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two images blurred by a pixel: 1 = same shape, whatever the stroke rendering.

    Different digits score 0.3-0.7; the same digit through different input forms 0.9 or more."""
    a, b = ndimage.gaussian_filter(a, 1.0), ndimage.gaussian_filter(b, 1.0)
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def digits(mnist_samples):
    x, y = mnist_samples
    return x[::20][:10], y[::20][:10]  # one of each class


def test_output_is_mnist_shaped(digits):
    for digit in digits[0]:
        out = to_model_input(imagegen.dark_on_white(digit))
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert out.min() >= 0 and out.max() == pytest.approx(1.0)
        rows, cols = np.flatnonzero(out.any(1) > 0), np.flatnonzero(out.any(0) > 0)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)  # longest side ~20 px
        cy, cx = ndimage.center_of_mass(out)
        assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1  # centred by centre of mass


def test_mnist_digits_come_back_almost_unchanged(digits):
    for digit in digits[0]:
        assert similarity(to_model_input(digit), digit / 255.0) > 0.85


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda d: d, id="white-on-black-28px"),
        pytest.param(lambda d: imagegen.dark_on_white(d), id="dark-on-white-200px"),
        pytest.param(lambda d: imagegen.canvas_rgba(d), id="canvas-rgba"),
        pytest.param(lambda d: imagegen.canvas_rgba(d, box=(200, 10, 60)), id="small-in-corner"),
        pytest.param(lambda d: imagegen.photo(d), id="photo-grey-paper-gradient-noise"),
        pytest.param(lambda d: {"background": None, "layers": [], "composite": imagegen.canvas_rgba(d)}, id="sketch-composite"),
        pytest.param(
            lambda d: {"background": np.full((280, 280, 4), 255, np.uint8), "layers": [imagegen.transparent_layer(d)], "composite": None},
            id="sketch-background-and-layer",
        ),
        pytest.param(lambda d: imagegen.transparent_layer(d), id="transparent-png-black-under-alpha"),
        pytest.param(lambda d: Image.fromarray(imagegen.dark_on_white(d)), id="pil"),
        pytest.param(lambda d: imagegen.encode(imagegen.dark_on_white(d)), id="png-bytes"),
        pytest.param(lambda d: imagegen.encode(imagegen.photo(d), "JPEG", quality=70), id="jpeg-photo-bytes"),
        pytest.param(lambda d: imagegen.png_16bit(d), id="16-bit-png"),
        pytest.param(lambda d: imagegen.cmyk_jpeg(d), id="cmyk-jpeg"),
        pytest.param(lambda d: imagegen.dark_on_white(d).astype(np.float64) / 255.0, id="float-0-1"),
        pytest.param(lambda d: imagegen.dark_on_white(d)[..., None], id="h-w-1"),
    ],
)
def test_every_input_form_gives_the_same_digit(digits, make):
    for digit in digits[0]:
        reference = to_model_input(imagegen.dark_on_white(digit))
        assert similarity(to_model_input(make(digit)), reference) > 0.85


def test_file_paths_and_exif_rotation(tmp_path, digits):
    digit = digits[0][7]
    reference = to_model_input(imagegen.dark_on_white(digit))
    rotated = Image.fromarray(imagegen.dark_on_white(digit)).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": what phones write
    path = tmp_path / "phone.jpg"
    rotated.save(path, exif=exif, quality=95)
    assert similarity(to_model_input(str(path)), reference) > 0.85
    assert similarity(to_model_input(path), reference) > 0.85


# What a viewer applies to show a picture stored with each EXIF orientation; each of these undoes itself
# but ROTATE_90 / ROTATE_270, which undo each other.
SHOWN_AS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}
UNDONE_BY = {**SHOWN_AS, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation,side,fmt", [(o, 200, "JPEG") for o in range(2, 9)] + [(6, 2400, "PNG")])
def test_every_exif_orientation_is_turned_upright(digits, orientation, side, fmt):
    """Each orientation a camera writes, on a photo and on a picture large enough to be reduced while decoded."""
    digit = digits[0][2]
    upright = Image.fromarray(imagegen.dark_on_white(digit, side))
    stored = upright.transpose(UNDONE_BY[orientation])
    assert stored.transpose(SHOWN_AS[orientation]).tobytes() == upright.tobytes()
    exif = Image.Exif()
    exif[0x0112] = orientation
    got = to_model_input(imagegen.encode(stored, fmt, exif=exif))
    assert similarity(got, to_model_input(np.asarray(upright))) > 0.9


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_broken_exif_block_is_ignored(digits):
    upright = imagegen.dark_on_white(digits[0][5])
    broken = imagegen.encode(upright, "JPEG", exif=b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0garbage")
    assert Image.open(io.BytesIO(broken)).info.get("exif")  # the block is there, unreadable
    assert similarity(to_model_input(broken), to_model_input(upright)) > 0.9


def test_palette_png_with_transparency(digits):
    layer = Image.fromarray(imagegen.transparent_layer(digits[0][3])).convert("P")
    assert similarity(to_model_input(imagegen.encode(layer)), to_model_input(imagegen.dark_on_white(digits[0][3]))) > 0.85


def test_specks_and_paper_texture_are_ignored(digits):
    digit = digits[0][4]
    clean = imagegen.dark_on_white(digit, 200)
    dirty = clean.copy()
    rng = np.random.default_rng(1)
    for y, x in rng.integers(0, 200, size=(12, 2)):
        dirty[y : y + 2, x : x + 2] = 40  # pencil dust
    dirty = np.clip(dirty.astype(int) + rng.normal(0, 6, dirty.shape), 0, 255).astype(np.uint8)
    assert similarity(to_model_input(dirty), to_model_input(clean)) > 0.9


def test_stroke_width_is_normalised_for_small_drawings(digits):
    digit = digits[0][0]
    thick_brush_small = imagegen.canvas_rgba(digit, box=(100, 100, 70))
    grown = ndimage.grey_erosion(thick_brush_small[..., 0], size=9)  # a fat brush on a small drawing
    thick_brush_small[..., :3] = grown[..., None]
    out = to_model_input(thick_brush_small)
    ink_share = (out > 0.5).mean()
    reference_share = (to_model_input(imagegen.canvas_rgba(digit)) > 0.5).mean()
    assert ink_share < 2.0 * reference_share  # not a blob


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "No image"),
        ({"background": None, "layers": [], "composite": None}, "canvas is empty"),
        (np.zeros((280, 280, 4), np.uint8), "blank"),  # transparent: flattened onto white
        (np.zeros((100, 100), np.uint8), "blank"),  # all black
        (np.full((100, 100), 255, np.uint8), "blank"),  # all white
        (np.full((100, 100, 3), 128, np.uint8), "blank"),  # uniform grey
        (np.zeros((1, 1), np.uint8), "too small"),
        (np.full((30, 30), np.nan), "invalid"),
        (np.zeros((10, 10, 7)), "Unsupported image shape"),
        (b"hello, I am not a picture", "not an image"),
        (12345, "Unsupported input"),
        ("/no/such/file.png", "could not be found"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(value, message):
    with pytest.raises(InvalidImageError, match=message):
        to_model_input(value)


def test_blank_inputs_raise_blank_error():
    with pytest.raises(BlankImageError):
        to_model_input({"background": None, "layers": [], "composite": None})


def test_damaged_and_odd_files(tmp_path, digits):
    text = tmp_path / "notes.png"
    text.write_text("this is a text file renamed to .png")
    with pytest.raises(InvalidImageError, match="not an image"):
        to_model_input(str(text))
    with pytest.raises(InvalidImageError, match="damaged or incomplete"):
        to_model_input(imagegen.truncated_png(digits[0][2]))
    with pytest.raises(InvalidImageError, match="too small"):
        to_model_input(imagegen.encode(Image.new("L", (1, 1), 0)))


def test_decompression_bomb_is_refused_before_decoding():
    import resource
    import time

    bomb = imagegen.huge_png(20000)  # 90 kB on disk, 400 megapixels decoded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(InvalidImageError, match="too large"):
        to_model_input(bomb)
    assert time.perf_counter() - started < 1.0  # refused from the header, not decoded
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # kB: nothing decoded


def test_grey_flattens_alpha_onto_white():
    rgba = np.zeros((20, 20, 4), np.uint8)  # black, fully transparent
    assert np.allclose(to_grey(rgba), 1.0)
    rgba[..., 3] = 255
    assert np.allclose(to_grey(rgba), 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_fast_dilation_matches_scipy(seed):
    """`grow` stands in for scipy's binary dilation on the hot path: same pixels."""
    from handwriting.preprocessing import grow

    rng = np.random.default_rng(seed)
    mask = ndimage.binary_opening(rng.random((37, 53)) < 0.4)  # blobs, some touching the edges
    mask[:, 0] |= rng.random(37) < 0.5
    assert np.array_equal(grow(mask, 2), ndimage.binary_dilation(mask, iterations=2))


def test_otsu_splits_paper_from_ink():
    from handwriting.preprocessing import _otsu

    rng = np.random.default_rng(0)
    paper, ink = rng.normal(0.1, 0.02, 3000), rng.normal(0.8, 0.02, 500)
    threshold = _otsu(np.concatenate([paper, ink]).astype(np.float32))
    assert threshold < ink.min() and (paper < threshold).mean() > 0.99  # the gap's lowest bin: its centre
    assert _otsu(np.full(100, 0.3, np.float32)) < 0.3  # one level: below it, so nothing counts as ink


@pytest.mark.parametrize("size", [1, 2, 7, 32, 4096, 3001])
def test_fast_quantiles_match_numpys(size):
    """ink_map's paper level and ink range: np.quantile's linear quantiles, from one partition."""
    from handwriting.preprocessing import _quantiles

    values = np.random.default_rng(size).random(size, dtype=np.float32)
    fractions = (0.01, 0.5, 0.99)
    assert np.allclose(_quantiles(values, fractions), np.quantile(values, fractions), rtol=0, atol=1e-7)
    assert _quantiles(np.full(50, 0.25, np.float32), (0.5,)) == [0.25]



def _paper(height: int, width: int) -> np.ndarray:
    """Unevenly lit grey paper, as a phone photo has (not flat: the photo path)."""
    yy, xx = np.mgrid[0:height, 0:width]
    return (170 + 40 * xx / width + 20 * yy / height).astype(np.float64)


def test_a_ruled_line_under_a_photographed_digit_is_dropped(digits):
    for digit in digits[0][:4]:
        clean = imagegen.photo(digit)
        lined = clean.copy()
        lined[425:428, 40:] = (lined[425:428, 40:] * 0.55).astype(np.uint8)  # the paper's printed line, cut by the crop
        assert similarity(to_model_input(lined), to_model_input(clean)) > 0.97
        assert similarity(without_edge_lines(lined), to_model_input(clean)) < 0.9  # what the line did before


def test_a_box_edge_along_the_top_of_a_photo_is_dropped_but_an_i_dot_stays():
    def stroke_with(top_mark) -> np.ndarray:
        paper = _paper(140, 70)
        paper[40:130, 31:38] = 40  # an i's stem (or an l)
        top_mark(paper)
        return np.clip(paper, 0, 255).astype(np.uint8)

    def blobs(out: np.ndarray) -> int:
        return ndimage.label(out > 0.3)[1]

    def dot(p):
        p[0:9, 30:39] = 40  # round, touching the top edge

    def box_edge(p):
        p[0:3, :] = 60  # from edge to edge along the top

    assert blobs(to_model_input(stroke_with(dot))) == 2
    assert blobs(to_model_input(stroke_with(box_edge))) == 1
    assert blobs(without_edge_lines(stroke_with(box_edge))) == 2


def test_flat_parts_below_a_drawing_on_the_pad_are_kept(digits):
    """A sketchpad has no ruled lines: whatever the person drew there is theirs (and a photo's flat mark that
    does not reach an edge is kept too)."""
    canvas = imagegen.canvas_rgba(digits[0][1])
    canvas[262:270, 0:200, :3] = 0  # a bar under the drawing, from the pad's left edge
    assert similarity(to_model_input(canvas), without_edge_lines(canvas)) == pytest.approx(1.0)
    photo = _paper(140, 90)
    photo[10:100, 40:47] = 40
    photo[118:122, 20:70] = 40  # a flat mark under it, short of every edge
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    assert np.array_equal(to_model_input(photo), without_edge_lines(photo))
