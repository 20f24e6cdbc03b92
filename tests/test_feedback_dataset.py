"""Feedback published as a Hugging Face dataset: the folder `datasets.load_dataset` reads (the exact model
inputs as images, the right answers, the card), and the push to a dataset repo on the hub stand-in."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import yaml

from handwriting.feedback import FeedbackRecord, open_store
from handwriting.feedback.record import encode_png
from hub_standin import HubStandIn
from training.feedback import main
from training.feedback_dataset import read_dataset
from training.feedback_file import load_training_file

TOKEN = "hf_dataset_test_token"


def record(task: str, predicted: str, correct: str, source: str, seed: int) -> FeedbackRecord:
    pixels = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    return FeedbackRecord(uuid.uuid4().hex, f"2026-12-0{seed}T10:00:00.000000Z", task, "1.0.0", predicted, 0.9,
                          correct, source, encode_png(pixels))


@pytest.fixture
def store_dir(tmp_path, backend):
    """A store with three records: the SQLite file, or the database HANDWRITING_DATABASE_URL names (the
    export reads whichever the app writes)."""
    folder = tmp_path / "store"
    store = open_store(folder)
    for r in (record("digits", "1", "7", "app", 1), record("digits", "3", "3", "api", 2),
              record("letters", "O", "Q", "game", 3)):
        store.insert(r)
    yield folder
    store.close()


def test_the_export_is_a_dataset_load_dataset_reads(store_dir, tmp_path):
    from datasets import load_dataset

    out = tmp_path / "dataset"
    assert main(["export", "--data-dir", str(store_dir), "--format", "dataset", "--out", str(out)]) == 0
    ds = load_dataset(str(out), split="train")
    assert ds.column_names == ["image", "label", "predicted", "task", "source", "was_correct", "created"]
    assert ds.features["image"].__class__.__name__ == "Image"
    assert ds["label"] == ["7", "3", "Q"] and ds["predicted"] == ["1", "3", "O"]
    assert ds["was_correct"] == [False, True, False] and ds["source"] == ["app", "api", "game"]
    stored = open_store(store_dir).records()
    for row, r in zip(ds, stored):
        assert row["image"].size == (28, 28)
        assert np.array_equal(np.asarray(row["image"].convert("L")), r.pixels())  # the exact model input
    front = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert front["license"] and [f["name"] for f in front["dataset_info"]["features"]] == ds.column_names
    assert "consent" in (out / "README.md").read_text() or "agreeing" in (out / "README.md").read_text()

    # corrections only, written over the folder: the old shard does not linger
    assert main(["export", "--data-dir", str(store_dir), "--format", "dataset", "--out", str(out),
                 "--corrections-only"]) == 0
    assert load_dataset(str(out), split="train")["label"] == ["7", "Q"]


def test_push_uploads_the_dataset_to_a_dataset_repo(store_dir, tmp_path, monkeypatch):
    from datasets import load_dataset
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest keeps the rest of the suite offline
    out = tmp_path / "dataset"
    with HubStandIn(token=TOKEN) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        assert main(["export", "--data-dir", str(store_dir), "--format", "dataset", "--out", str(out),
                     "--push", "someone/handwriting-feedback"]) == 0
        files = hub.files_at("someone/handwriting-feedback")
        # retraining takes its feedback from the dataset repo instead of the sheet
        npz = tmp_path / "digits.npz"
        assert main(["export", "--from", "dataset", "--dataset", "someone/handwriting-feedback", "--task", "digits",
                     "--out", str(npz)]) == 0
    data = load_training_file(npz)
    assert [data.labels[i] for i in data.y] == ["7", "3"] and list(data.source) == ["app", "api"]
    assert np.array_equal(data.x[0], open_store(store_dir).records()[0].pixels())
    assert sorted(files) == ["README.md", "data/train-00000-of-00001.parquet"]
    copy = tmp_path / "downloaded"
    for name, content in files.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(content)
    assert load_dataset(str(copy), split="train")["label"] == ["7", "3", "Q"]


def test_push_needs_the_dataset_format(store_dir, tmp_path):
    with pytest.raises(SystemExit, match="--format dataset"):
        main(["export", "--data-dir", str(store_dir), "--out", str(tmp_path / "x.npz"), "--push", "a/b"])


def test_rows_that_are_not_feedback_records_are_skipped(tmp_path):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    def png(side: int) -> bytes:
        buf = io.BytesIO()
        Image.new("L", (side, side), 0).save(buf, format="PNG")
        return buf.getvalue()

    good = {"image": {"bytes": png(28), "path": None}, "label": "7", "predicted": "1", "task": "digits",
            "source": "app", "was_correct": False, "created": "2026-12-05T10:00:00Z"}
    rows = [good, good,  # the same row twice: one record
            {**good, "label": "Q"}, {**good, "task": "klingon"}, {**good, "source": "bot"},
            {**good, "image": {"bytes": png(4000), "path": None}}, {**good, "image": {"bytes": b"junk", "path": None}}]
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "data" / "train-00000-of-00001.parquet")
    records, skipped = read_dataset(str(tmp_path))
    assert skipped == 5 and len(records) == 2 and len({r.id for r in records}) == 1
    assert records[0].correct == "7" and records[0].pixels().shape == (28, 28)
