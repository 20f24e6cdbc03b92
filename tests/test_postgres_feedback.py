"""The feedback store on PostgreSQL, where it differs from SQLite or where replicas meet: uploads kept in
the database within their budget, one idempotency key claimed by racing replicas, connections dropped
mid-write, the database down at start and back without a restart, and the URL's password kept out of
every message and log line."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import imagegen
from handwriting.feedback import FeedbackRecorder, FeedbackStorageError, make_record
from handwriting.feedback.original import Original
from handwriting.feedback.postgres_store import PostgresFeedbackStore
from handwriting.postgres import Database
from handwriting.service import FeedbackDesk
from postgres_server import PASSWORD, PostgresServer


def record(seed: int = 0):
    x = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    return make_record(x, "digits", "1", "7", confidence=0.6, model_version="1.0.0", source="api")


OPENED: list[Database] = []


@pytest.fixture(autouse=True)
def close_pools():
    yield
    while OPENED:
        OPENED.pop().close()


def own_database(url: str, **kwargs) -> Database:
    OPENED.append(Database(url, **kwargs))
    return OPENED[-1]


def replica(url: str, folder, **kwargs) -> FeedbackRecorder:
    """A recorder with its own pool, as another app process would have."""
    rec = FeedbackRecorder(folder, database_url=url)
    rec.store = PostgresFeedbackStore(own_database(url, **kwargs), folder)
    return rec


def test_uploads_are_kept_in_the_database_once_and_within_their_budget(database_url, tmp_path):
    rec = FeedbackRecorder(tmp_path, database_url=database_url, originals_budget=2500)
    pictures = [Original(bytes([i]) * 1000, "png") for i in range(4)]
    stored = [rec.submit(record(i), pictures[i % 3]) for i in range(5)]  # the first picture twice
    assert rec.store.original_data(stored[3].original_file) == pictures[0].data  # shared by every replica
    assert rec.store.originals_size() <= 2500
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing on this replica's disk
    kept = [r.original_file for r in rec.store.records()]
    assert rec.store.count() == 5 and kept.count("") >= 1  # the oldest upload dropped, its records stay


def test_one_key_sent_to_three_replicas_at_once_stores_one_record(database_url, tmp_path, mnist_samples):
    x, y = mnist_samples
    picture = tmp_path / "seven.png"
    picture.write_bytes(imagegen.encode(imagegen.dark_on_white(x[list(y).index(7)], 96)))
    desks = [FeedbackDesk(replica(database_url, tmp_path / f"r{i}")) for i in range(3)]
    barrier = threading.Barrier(9)

    def send(i):
        barrier.wait()
        return desks[i % 3].submit(str(picture), "digits", "7", "7", confidence=0.9, model_version="1",
                                   request_key="retry-me-1")

    with ThreadPoolExecutor(9) as pool:
        answers = list(pool.map(send, range(9)))
    assert len({a.id for a in answers}) == 1
    assert desks[0].recorder.store.count() == 1


def test_dropped_connections_mid_write_lose_no_acknowledged_record(postgres_cluster, database_url, tmp_path):
    rec = replica(database_url, tmp_path)
    rec.store.count()  # the schema is in place
    database = database_url.rsplit("/", 1)[1]
    acknowledged, refused, stop = [], [], threading.Event()

    deadline = time.monotonic() + 90

    def write(worker):
        i = 0  # write until several writes met a cut connection (a loaded machine cuts slowly)
        while (len(refused) < 5 or i < 20) and time.monotonic() < deadline:
            try:
                acknowledged.append(rec.submit(record(worker * 10_000 + i)).id)
            except FeedbackStorageError:
                refused.append(i)
            i += 1

    def cut():
        while not stop.is_set():
            postgres_cluster.terminate_connections(database)
            time.sleep(0.05)

    cutter = threading.Thread(target=cut)
    cutter.start()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))
    stop.set()
    cutter.join()
    assert refused, "no write met a dropped connection: the test did not test anything"
    stored = [r.id for r in replica(database_url, tmp_path).store.records()]
    assert sorted(set(stored) & set(acknowledged)) == sorted(acknowledged)  # every acknowledged record, once
    assert len(stored) == len(set(stored))
    deadline = time.monotonic() + 15
    while True:  # and the pool serves again: its broken connections are replaced
        try:
            assert rec.submit(record(999)).id
            break
        except FeedbackStorageError:
            assert time.monotonic() < deadline, "the pool never recovered"
            time.sleep(0.2)


def test_the_database_down_at_start_then_back_without_a_restart(tmp_path, caplog):
    server = PostgresServer()
    server.start()
    url = server.create_database("feedback")
    server.stop()
    try:
        caplog.set_level(logging.INFO)
        rec = replica(url, tmp_path, connect_timeout=1)
        rec.start()  # the app launches: it says the store is unreachable and serves on
        assert "cannot be read" in caplog.text
        with pytest.raises(FeedbackStorageError, match="could not be stored"):
            rec.submit(record(1))
        server.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                stored = rec.submit(record(2))
                break
            except FeedbackStorageError:
                assert time.monotonic() < deadline, "the store never came back"
                time.sleep(0.5)
        assert rec.store.get(stored.id) == stored
        assert PASSWORD not in caplog.text
    finally:
        server.destroy()


def test_the_password_never_reaches_a_message_or_the_log(postgres_cluster, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = postgres_cluster.url("postgres", password="Wr0ng-" + uuid.uuid4().hex)
    messages = []
    for url in (wrong, postgres_cluster.url("no_such_database")):
        rec = replica(url, tmp_path, connect_timeout=1)
        rec.start()
        with pytest.raises(FeedbackStorageError) as err:
            rec.submit(record(3))
        messages.append(str(err.value))
    secrets = (PASSWORD, wrong.split(":")[2].split("@")[0])
    for text in (caplog.text, *messages):
        assert not any(secret in text for secret in secrets), text
    assert "could not be stored" in messages[0]


def test_feedback_on_a_read_is_stored_with_its_characters_and_its_key(database_url, tmp_path):
    from handwriting.feedback import make_read_feedback

    rng = np.random.default_rng(5)
    characters = [(rng.integers(0, 256, (28, 28), dtype=np.uint8), label, 0.8, (i * 30, 0, i * 30 + 28, 28))
                  for i, label in enumerate("17")]
    read, records = make_read_feedback("digits", "17", "77", characters, model_version="1.0.0")
    picture = Original(b"a line of digits", "png")
    rec = FeedbackRecorder(tmp_path, database_url=database_url)
    stored = rec.submit_read(read, records, picture, request_key="read-key-1")
    assert rec.store.reads(read.id) == [stored] and stored.matched
    assert [r.correct for r in rec.store.records()] == ["7", "7"]
    assert {r.original_file for r in rec.store.records()} == {stored.original_file}
    assert rec.store.original_data(stored.original_file) == picture.data
    again, again_records = make_read_feedback("digits", "17", "77", characters, model_version="1.0.0")
    assert rec.submit_read(again, again_records, picture, request_key="read-key-1") == stored  # a retry
    assert len(rec.store.reads()) == 1 and rec.store.count() == 2
