"""The EMNIST ByClass loader, on a tiny file written here in NIST's own format (gzip IDX, transposed)."""

from __future__ import annotations

import gzip
import struct
import sys

import numpy as np
import pytest

from handwriting.tasks import labels_for
from training.emnist import from_all, load_emnist_byclass, positions_in_all, read_idx

BYCLASS = labels_for("all")  # EMNIST ByClass order: 0-9, A-Z, a-z


def write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture
def emnist_dir(tmp_path):
    """Five upright images, each a bar along its top rows, stored transposed as NIST does."""
    labels = np.array([BYCLASS.index(c) for c in "3Aaz0"], np.uint8)
    upright = np.zeros((5, 28, 28), np.uint8)
    for k in range(5):
        upright[k, 2 + k : 5 + k, 4:24] = 255  # a horizontal bar, lower for each image
    for split in ("train", "test"):
        write_idx(tmp_path / f"emnist-byclass-{split}-images-idx3-ubyte.gz", upright.transpose(0, 2, 1))
        write_idx(tmp_path / f"emnist-byclass-{split}-labels-idx1-ubyte.gz", labels)
    return tmp_path, upright


def test_all_task_keeps_every_class_upright(emnist_dir):
    folder, upright = emnist_dir
    x, y = load_emnist_byclass(folder, "all", "train")
    assert x.shape == (5, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, upright)  # the transposition is undone
    assert [BYCLASS[v] for v in y] == list("3Aaz0")


def test_letters_task_drops_digits_and_shifts_labels(emnist_dir):
    folder, upright = emnist_dir
    x, y = load_emnist_byclass(folder, "letters", "test")
    letters = labels_for("letters")
    assert [letters[v] for v in y] == list("Aaz")
    assert list(y) == [0, 26, 51]
    np.testing.assert_array_equal(x, upright[1:4])


@pytest.mark.parametrize("task", ["digits", "letters", "all"])
def test_a_tasks_labels_map_to_the_62_character_order_and_back(task):
    labels = labels_for(task)
    positions = positions_in_all(task)
    assert [BYCLASS[i] for i in positions] == list(labels)
    back = from_all(task, missing=-5)
    assert [back[i] for i in positions] == list(range(len(labels)))
    assert sorted(set(back) - set(range(len(labels)))) == ([-5] if len(labels) < len(BYCLASS) else [])


def test_bad_files_are_refused(tmp_path):
    bad = tmp_path / "x.gz"
    bad.write_bytes(gzip.compress(b"not an idx file at all"))
    with pytest.raises(ValueError, match="not an IDX"):
        read_idx(bad)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + bytes(3)))
    with pytest.raises(ValueError, match="header says"):
        read_idx(short)


def test_missing_files_without_the_package_say_so(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "emnist", None)  # as if `emnist` were not installed
    with pytest.raises(FileNotFoundError, match="emnist-byclass-train-images"):
        load_emnist_byclass(tmp_path, "letters", "train")
