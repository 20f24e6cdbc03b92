"""Feedback storage left open to the public: kept uploads bounded, idempotency keys bound to their request,
and store failures told to the client without the server's paths or driver errors."""

from __future__ import annotations

import logging
import types
import uuid
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

import imagegen
import rawapi
from handwriting.feedback import FeedbackStorageError, InvalidFeedbackError
from handwriting.feedback.database import DB_FILE, ORIGINALS_DIR
from handwriting.feedback import FeedbackRecorder
from handwriting.service import FeedbackDesk
from ui.feedback import feedback_endpoint

MB = 2**20


@pytest.fixture(scope="module")
def seven(mnist_samples) -> bytes:
    x, y = mnist_samples
    return imagegen.encode(imagegen.dark_on_white(x[list(y).index(7)], 96))


def with_ancillary_chunk(png: bytes, size: int) -> bytes:
    """`png` with a private ancillary chunk of `size` random bytes before its pixels (viewers skip it)."""
    body = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    chunk = size.to_bytes(4, "big") + b"zzZz" + body + zlib.crc32(b"zzZz" + body).to_bytes(4, "big")
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR's length and type, its 13 bytes, its CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def kept(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / ORIGINALS_DIR).rglob("*") if p.is_file())


def recorder_with(monkeypatch, folder: Path, **env) -> FeedbackRecorder:
    """The app's recorder (`from_settings`) on `folder`, with settings from `env`."""
    monkeypatch.setenv("HANDWRITING_STORE_DIR", str(folder))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return FeedbackRecorder.from_settings()


def store(desk, path, correct="7", key=None, predicted="7"):
    return desk.submit(str(path), "digits", predicted, correct, confidence=0.9, model_version="1", request_key=key)


# ---------------------------------------------------------------------------------------------------
# 5. One upload cannot fill the disk


def test_twenty_feedbacks_reusing_one_padded_upload_keep_it_once_and_small(tmp_path, seven):
    padded = tmp_path / "padded.png"
    padded.write_bytes(with_ancillary_chunk(seven, int(9.8 * MB)))
    recorder = FeedbackRecorder(tmp_path / "store", max_bytes=10 * MB)
    desk = FeedbackDesk(recorder)
    store(desk, padded)  # the store's own files exist from here on
    before = folder_bytes(tmp_path / "store")
    records = [store(desk, padded) for _ in range(20)]

    assert folder_bytes(tmp_path / "store") - before < 1 * MB
    assert recorder.store.count() == 21 and len({r.original_file for r in records}) == 1
    [original] = kept(tmp_path / "store")
    assert original.stat().st_size < 20_000  # the chunk is dropped, the digit kept
    with Image.open(original) as img:
        assert img.size == (96, 96) and not any(key.startswith("zz") for key in img.info)
        assert np.array_equal(np.asarray(img.convert("L")), np.asarray(Image.open(padded).convert("L")))
    recorder.store.close()


def test_a_large_photo_is_kept_upright_at_a_reviewers_size_without_its_metadata(tmp_path, mnist_samples, monkeypatch):
    x, y = mnist_samples
    photo = Image.fromarray(imagegen.photo(x[list(y).index(4)], size=(3000, 2000)))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: viewers turn it 90 degrees clockwise
    exif[0x010F] = "SomePhone"
    path = tmp_path / "photo.jpg"
    photo.save(path, quality=95, exif=exif)
    recorder = recorder_with(monkeypatch, tmp_path / "store", HANDWRITING_ORIGINAL_SIDE="1024")

    record = store(FeedbackDesk(recorder), path, "4", predicted="4")
    with Image.open(tmp_path / "store" / record.original_file) as img:
        assert img.format == "JPEG" and img.size == (683, 1024)  # upright: taller than wide
        assert not img.getexif() and "exif" not in img.info
    recorder.store.close()


def test_kept_uploads_stay_within_their_budget_oldest_first_and_every_record_stays(tmp_path, mnist_samples, monkeypatch):
    x, y = mnist_samples
    paths = []
    for i in range(6):
        path = tmp_path / f"digit{i}.png"
        path.write_bytes(imagegen.encode(imagegen.photo(x[i], size=(300, 300), seed=i)))  # noisy: ~100-270 KB as PNG
        paths.append(path)
    budget = 600_000
    recorder = recorder_with(monkeypatch, tmp_path / "store", HANDWRITING_ORIGINALS_BUDGET=str(budget))
    desk = FeedbackDesk(recorder)
    records = [store(desk, path, str(y[i]), predicted=str(y[i])) for i, path in enumerate(paths)]

    assert recorder.store.count() == 6  # records are never pruned
    assert sum(p.stat().st_size for p in kept(tmp_path / "store")) <= budget
    now = {r.id: r.original_file for r in recorder.store.records()}
    assert now[records[-1].id] == records[-1].original_file  # the newest is kept
    assert now[records[0].id] == "" and not (tmp_path / "store" / records[0].original_file).exists()  # the oldest went
    assert {p.relative_to(tmp_path / "store").as_posix() for p in kept(tmp_path / "store")} == {n for n in now.values() if n}
    assert all(r.pixels().shape == (28, 28) for r in recorder.store.records())  # the model inputs all stay
    recorder.store.close()


# ---------------------------------------------------------------------------------------------------
# 8. An Idempotency-Key is bound to its request


def test_a_key_reused_with_another_request_is_refused_and_the_same_request_answers_the_first_record(tmp_path, seven,
                                                                                                   mnist_samples, backend):
    x, y = mnist_samples
    first_image = tmp_path / "seven.png"
    first_image.write_bytes(seven)
    other_image = tmp_path / "other.png"
    other_image.write_bytes(imagegen.encode(imagegen.dark_on_white(x[list(y).index(1)], 96)))
    recorder = FeedbackRecorder(tmp_path / "store")
    desk = FeedbackDesk(recorder)
    first = store(desk, first_image, "7", key="key-1")

    for image, predicted, correct in ((other_image, "7", "7"), (first_image, "1", "7"), (first_image, "7", "1")):
        with pytest.raises(InvalidFeedbackError, match="Idempotency-Key was already used for another request"):
            store(desk, image, correct, key="key-1", predicted=predicted)
    with pytest.raises(InvalidFeedbackError, match="already used for another request"):
        desk.submit(str(first_image), "letters", "A", "A", confidence=0.9, model_version="1", request_key="key-1")
    assert store(desk, first_image, "7", key="key-1") == first  # a true retry answers with the first record
    assert recorder.store.count() == 1
    recorder.store.close()


def test_through_the_api_a_reused_key_with_another_picture_is_refused(app_url, seven, mnist_samples):
    x, y = mnist_samples
    one = imagegen.encode(imagegen.dark_on_white(x[list(y).index(1)], 96))
    key = {"Idempotency-Key": f"reuse-{uuid.uuid4().hex}"}
    with httpx.Client(timeout=60) as http:
        base = app_url.rstrip("/")
        first = rawapi.call(http, base, "feedback", rawapi.upload(http, base, seven), "digits", "7", "7", headers=key)
        with pytest.raises(rawapi.CallError, match="already used for another request"):
            rawapi.call(http, base, "feedback", rawapi.upload(http, base, one), "digits", "7", "7", headers=key)
        again = rawapi.call(http, base, "feedback", rawapi.upload(http, base, seven), "digits", "7", "7", headers=key)
    assert again == first


# ---------------------------------------------------------------------------------------------------
# 9. A broken store is not described to the client


def test_an_unopenable_store_with_a_key_tells_the_client_nothing_of_the_server(tmp_path, seven, caplog):
    folder = tmp_path / "store"
    (folder / DB_FILE).mkdir(parents=True)  # a folder where the database file should be: SQLite cannot open it
    image = tmp_path / "seven.png"
    image.write_bytes(seven)
    desk = FeedbackDesk(FeedbackRecorder(folder))
    request = types.SimpleNamespace(headers={"idempotency-key": "retry-1"})

    with caplog.at_level(logging.ERROR, logger="handwriting.feedback"), pytest.raises(Exception) as raised:
        feedback_endpoint(desk)(str(image), "digits", "7", "7", request=request)  # the /feedback endpoint's function
    message = str(raised.value)
    assert "could not be stored on the server" in message
    assert str(tmp_path) not in message and "sqlite" not in message.lower() and "unable to open" not in message
    assert str(folder) in caplog.text  # the operator still learns where and why
    with pytest.raises(FeedbackStorageError) as raised:
        desk.submit(str(image), "digits", "7", "7", confidence=0.9, model_version="1", request_key="retry-2")
    assert str(tmp_path) not in str(raised.value)
