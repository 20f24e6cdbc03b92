"""The Google Sheets sink: the real gspread and google-auth code against a misbehaving local stand-in.

Every test runs the real client path (service-account JWT -> token endpoint -> Sheets v4 calls) against
`sheets_standin.SheetsStandIn` on 127.0.0.1, with retry timings shrunk so outages last seconds.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import imagegen
import rawapi
from conftest import ROOT, free_port
from handwriting.config import SheetsSettings
from handwriting.feedback import FeedbackRecorder
from handwriting.feedback.sheets import (
    SHEET_COLUMNS,
    SINK,
    SheetsConfigError,
    SheetsSender,
    SheetsSink,
    load_credentials,
    read_sheet_records,
    sheet_row,
    spreadsheet_key,
)
from sheets_standin import KINDS, SheetsStandIn
from training.feedback_file import load_training_file
from handwriting.service import FeedbackDesk
from training import feedback as feedback_cli

EMAIL = "feedback-writer@handwriting-tests.iam.gserviceaccount.com"
ID = re.compile(r"record ([0-9a-f]{32})")


@pytest.fixture(scope="module")
def key_pair():
    """A fresh RSA key: the service account's private key, and the public key the stand-in checks."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture(scope="module")
def account(key_pair) -> dict:
    """A service-account JSON key as Google issues it (token_uri is Google's: requests are redirected)."""
    return {"type": "service_account", "project_id": "handwriting-tests", "private_key_id": "0123abcd",
            "private_key": key_pair[0], "client_email": EMAIL, "client_id": "1234567890",
            "token_uri": "https://oauth2.googleapis.com/token"}


@pytest.fixture
def standin(key_pair):
    server = SheetsStandIn(key_pair[1], EMAIL, hang_s=1.0, lifetime_s=240)
    yield server
    server.stop()


def settings_for(standin, account, **changes) -> SheetsSettings:
    values = dict(key=standin.spreadsheet_id, worksheet="feedback", service_account_file="",
                  service_account_json=json.dumps(account), endpoint=standin.url, batch_size=20,
                  writes_per_minute=60000, timeout_s=0.5, retry_base_s=0.05, retry_max_s=0.5, idle_poll_s=0.2)
    return SheetsSettings(**{**values, **changes})


@pytest.fixture(scope="module")
def pictures(mnist_samples) -> list[tuple[bytes, str]]:
    x, y = mnist_samples
    return [(imagegen.encode(imagegen.dark_on_white(x[i], size=64)), str(y[i])) for i in range(0, 200, 5)]


def submit(recorder, pictures, n: int, offset: int = 0) -> list:
    """n records through the recorder (known confidence and version: no model call needed)."""
    out = []
    for i in range(offset, offset + n):
        data, label = pictures[i % len(pictures)]
        predicted = label if i % 3 else str((int(label) + 1) % 10)
        out.append(FeedbackDesk(recorder).submit(data, "digits", predicted, label, confidence=0.75, model_version="test"))
    return out


def wait_until_sent(store, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while store.outbox_counts(SINK)["waiting"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.outbox_counts(SINK)["waiting"] == 0, store.last_errors(SINK)


def sheet_ids(standin) -> list[str]:
    rows = standin.values("feedback")
    assert rows and rows[0] == list(SHEET_COLUMNS)
    return [row[0] for row in rows[1:]]


@pytest.fixture
def recorders(tmp_path):
    """Recorders made by the test; their senders are stopped and stores closed at the end."""
    made = []

    def make(cfg, folder=None) -> FeedbackRecorder:
        rec = FeedbackRecorder(folder or tmp_path / "store", [SheetsSink(cfg)]).start()  # as the app's launch does
        made.append(rec)
        return rec

    yield make
    for rec in made:
        rec.close()
        rec.store.close()


@contextmanager
def launched(recorder):
    """The app's page and API built around `recorder`, served on a free loopback port."""
    import app

    demo = app.build_demo(recorder)
    port = free_port()
    demo.queue(default_concurrency_limit=app.PREDICT_CONCURRENCY).launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, max_file_size="10mb")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        demo.close()


# ---------------------------------------------------------------------------------------------------


def test_records_reach_the_sheet_and_read_back_as_the_same_training_file(standin, account, recorders, pictures,
                                                                         tmp_path, monkeypatch):
    recorder = recorders(settings_for(standin, account, batch_size=4))
    records = submit(recorder, pictures, 10)
    assert "being copied to the Google Sheet" in recorder.confirmation(records[0])
    wait_until_sent(recorder.store)

    rows = standin.values("feedback")
    assert rows[0] == list(SHEET_COLUMNS)
    assert sorted(map(tuple, rows[1:])) == sorted(tuple(sheet_row(r)) for r in records)
    assert standin.counts["token"] >= 1 and standin.counts["unauthorised"] == 0  # the JWT grant ran
    assert standin.counts["add_sheet"] == 1  # the worksheet was made, with its header
    assert 3 <= standin.counts["append_ok"] <= 10  # batches (the first may leave before all are queued)
    assert recorder.store.outbox_counts(SINK) == {"waiting": 0, "in_doubt": 0, "parked": 0, "delivered": 10}

    cfg = settings_for(standin, account)
    back, bad = read_sheet_records(cfg)
    assert bad == 0
    assert sorted(back, key=lambda r: r.id) == sorted((r.__class__(**{**vars(r), "original_file": ""}) for r in records),
                                                      key=lambda r: r.id)
    for name, value in (("GOOGLE_SHEETS_KEY", cfg.key), ("GOOGLE_SERVICE_ACCOUNT_JSON", cfg.service_account_json),
                        ("HANDWRITING_SHEETS_ENDPOINT", cfg.endpoint)):
        monkeypatch.setenv(name, value)
    store_dir = str(tmp_path / "store")
    feedback_cli.main(["export", "--from", "sheet", "--out", str(tmp_path / "sheet.npz"), "--data-dir", store_dir])
    feedback_cli.main(["export", "--from", "local", "--out", str(tmp_path / "local.npz"), "--data-dir", store_dir])
    from_sheet, local = load_training_file(tmp_path / "sheet.npz"), load_training_file(tmp_path / "local.npz")
    order = np.argsort(from_sheet.ids)
    assert np.array_equal(from_sheet.ids[order], np.sort(local.ids))
    local_order = np.argsort(local.ids)
    for key in ("x", "y", "source", "was_correct"):
        assert np.array_equal(getattr(from_sheet, key)[order], getattr(local, key)[local_order]), key


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_append_is_retried_without_duplicates(standin, account, recorders, pictures, kind, backend):
    """Writes that landed despite an error answer are found by id and never sent again."""
    standin.fail(kind, on="append")
    recorder = recorders(settings_for(standin, account))
    records = submit(recorder, pictures, 6)
    wait_until_sent(recorder.store)
    assert sorted(sheet_ids(standin)) == sorted(r.id for r in records)
    assert standin.counts[f"failure_{kind}"] == 1
    landed = kind.endswith("_applied")
    assert (recorder.sink(SINK).sender.stats["already_there"] > 0) == landed


def test_a_record_the_api_refuses_is_set_aside_and_the_others_go_through(standin, account, recorders, pictures, backend):
    recorder = recorders(settings_for(standin, account, batch_size=10))
    recorder.sink(SINK).sender.stop()  # queue everything first, so the bad record travels in a batch
    good = submit(recorder, pictures, 6)
    bad = good[0].__class__(**{**vars(good[0]), "id": "f" * 32, "image_png_b64": "A" * 60_000})
    with recorder.store.transaction():  # a record too big for a cell (the app never makes one)
        recorder.store.insert(bad)
        recorder.store.enqueue(SINK, bad.id)
    sender = recorder.sink(SINK).sender = SheetsSender(recorder.store, recorder.sink(SINK).cfg, None).start()
    deadline = time.monotonic() + 20
    while recorder.store.waiting(SINK) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(sheet_ids(standin)) == sorted(r.id for r in good)
    assert recorder.store.outbox_counts(SINK)["parked"] == 1 and sender.state == "ok"
    assert "50000 characters" in dict(recorder.store.last_errors(SINK))[bad.id]


@pytest.mark.slow
def test_the_quota_is_waited_out_and_pacing_stays_under_it(standin, account, recorders, pictures, tmp_path):
    standin.write_quota(4, 1.0)  # 4 writes a second, answered with 429 beyond, like the per-user quota
    fast = recorders(settings_for(standin, account, batch_size=1), tmp_path / "fast")
    records = submit(fast, pictures, 10)
    wait_until_sent(fast.store)
    assert sorted(sheet_ids(standin)) == sorted(r.id for r in records)
    assert standin.counts["failure_429"] > 0  # it hit the quota and waited it out

    before = standin.counts["failure_429"]
    standin.write_quota(4, 1.0)  # a fresh window
    paced = recorders(settings_for(standin, account, batch_size=1, writes_per_minute=120), tmp_path / "paced")
    more = submit(paced, pictures, 3)
    wait_until_sent(paced.store)
    assert sorted(sheet_ids(standin)) == sorted(r.id for r in records + more)
    assert standin.counts["failure_429"] == before  # paced at 2 a second it never met the quota


def test_an_outage_and_a_restart_lose_nothing(standin, account, recorders, pictures, tmp_path, backend):
    standin.down()
    cfg = settings_for(standin, account)
    first = recorders(cfg)
    stored = submit(first, pictures, 15)  # storing never waits for the sheet
    assert first.store.count() == 15
    deadline = time.monotonic() + 10
    while first.sink(SINK).sender.state != "retrying" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "cannot be reached right now" in first.confirmation(stored[-1])

    first.close()  # the app stops with everything still queued ...
    first.store.close()
    second = recorders(cfg)  # ... and starts again on the same data folder
    stored += submit(second, pictures, 5, offset=15)
    assert second.store.outbox_counts(SINK)["waiting"] == 20
    standin.up()
    wait_until_sent(second.store)
    assert sorted(sheet_ids(standin)) == sorted(r.id for r in stored)


def test_a_crash_in_the_middle_of_a_write_duplicates_nothing(standin, account, recorders, pictures, tmp_path, backend):
    """A sending process is killed (SIGKILL) after its append landed and before the answer came."""
    folder = tmp_path / "store"
    cfg = settings_for(standin, account, timeout_s=30)
    writer = FeedbackRecorder(folder)  # stores only: the sender runs in the process we kill
    records = submit(writer, pictures, 12)
    with writer.store.transaction():
        for r in records:
            writer.store.enqueue(SINK, r.id)
    writer.store.close()

    standin.hang_s = 30
    standin.fail("timeout_applied", on="append")
    script = textwrap.dedent(
        """
        import json, sys, time
        sys.path.insert(0, sys.argv[3])
        from handwriting.config import SheetsSettings
        from handwriting.feedback import open_store
        from handwriting.feedback.sheets import SheetsSender
        SheetsSender(open_store(sys.argv[1]), SheetsSettings(**json.loads(sys.argv[2]))).start()
        time.sleep(120)
        """
    )
    values = {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}
    proc = subprocess.Popen([sys.executable, "-c", script, str(folder), json.dumps(values), str(ROOT)])
    try:
        deadline = time.monotonic() + 60
        while standin.counts["failure_timeout_applied"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert standin.counts["failure_timeout_applied"] == 1, "the sending process never got to append"
        assert len(sheet_ids(standin)) == 12  # landed; its answer will never reach the process
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    restarted = recorders(settings_for(standin, account), folder)  # takes over the dead process's lease
    wait_until_sent(restarted.store)
    assert sorted(sheet_ids(standin)) == sorted(r.id for r in records)
    assert restarted.sink(SINK).sender.stats["already_there"] == 12 and restarted.sink(SINK).sender.stats["sent"] == 0


@pytest.mark.parametrize(
    "case, change, message",
    [
        ("not JSON", {"file": "{ this is not json"}, "is not valid JSON"),
        ("another kind of key", {"info": {"type": "authorized_user", "client_id": "x"}}, "is not a service-account key"),
        ("no private key", {"drop": "private_key"}, "lacks private_key"),
        ("broken private key", {"private_key": "-----BEGIN PRIVATE KEY-----\nMIIBroken\n-----END PRIVATE KEY-----\n"},
         "private key .* cannot be read"),
        ("missing file", {"path": "/no/such/key.json"}, "cannot be read"),
        ("no service account", {"none": True}, "no service account is"),
        ("not a sheet URL", {"key": "https://example.com/x/y"}, "not a spreadsheet key"),
    ],
)
def test_a_broken_service_account_is_reported_and_feedback_is_kept(standin, account, recorders, pictures, tmp_path,
                                                                   caplog, case, change, message):
    info = dict(account)
    if "drop" in change:
        del info[change["drop"]]
    if "private_key" in change:
        info["private_key"] = change["private_key"]
    key_file = tmp_path / "service-account.json"
    key_file.write_text(change.get("file") or json.dumps(change.get("info") or info))
    cfg = settings_for(standin, account, service_account_json="",
                       service_account_file="" if "none" in change else change.get("path", str(key_file)),
                       key=change.get("key", standin.spreadsheet_id))
    with pytest.raises(SheetsConfigError, match=message):
        spreadsheet_key(cfg.key)
        load_credentials(cfg)
    with caplog.at_level(logging.ERROR, logger="handwriting.feedback"):
        recorder = recorders(cfg)
    assert re.search(message, caplog.text) and "Google Sheets feedback is paused" in caplog.text
    assert account["private_key"].splitlines()[1] not in caplog.text  # no secret in the log
    record = submit(recorder, pictures, 1)[0]
    assert recorder.store.get(record.id) == record
    assert recorder.store.outbox_counts(SINK)["waiting"] == 1  # kept for when it is fixed
    assert "not set up correctly" in recorder.confirmation(record)


def test_credentials_google_refuses_are_reported_and_records_wait(standin, account, recorders, pictures, caplog):
    stranger = dict(account, private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
    with caplog.at_level(logging.ERROR, logger="handwriting.sheets"):
        recorder = recorders(settings_for(standin, stranger))
        record = submit(recorder, pictures, 1)[0]
        deadline = time.monotonic() + 10
        while recorder.sink(SINK).sender.state != "misconfigured" and time.monotonic() < deadline:
            time.sleep(0.05)
    assert recorder.sink(SINK).sender.state == "misconfigured" and standin.counts["token_refused"] >= 1
    assert "refused the service account's credentials" in caplog.text
    assert standin.values("Sheet1") == [] and recorder.store.outbox_counts(SINK)["waiting"] == 1
    assert "refuses our writes" in recorder.confirmation(record)


def test_the_app_serves_and_stores_with_a_broken_service_account_file(standin, account, recorders, pictures, tmp_path):
    (tmp_path / "key.json").write_text("{ broken")
    recorder = recorders(settings_for(standin, account, service_account_json="",
                                      service_account_file=str(tmp_path / "key.json")))
    with launched(recorder) as url, httpx.Client(timeout=60) as http:
        image = rawapi.upload(http, url, pictures[0][0])
        text = rawapi.call(http, url, "feedback", image, "digits", pictures[0][1], pictures[0][1])
        assert "not set up correctly" in text
        assert recorder.store.get(ID.search(text).group(1)) is not None
        result = rawapi.call(http, url, "predict", rawapi.upload(http, url, pictures[0][0]), "digits")
        assert result["label"] == pictures[0][1]


@pytest.mark.slow
def test_200_flags_through_the_app_while_the_sheet_misbehaves_then_recovers(standin, account, recorders, pictures):
    for kind in KINDS:  # each kind of failure at least once, on appends ...
        standin.fail(kind, on="append")
    standin.chaos(0.3)  # ... and any call failing 30% of the time, in any way
    recorder = recorders(settings_for(standin, account, batch_size=10))
    ids: list[str] = []

    def flag(url, n: int, offset: int) -> None:
        def one(i: int) -> str:
            data, label = pictures[i % len(pictures)]
            predicted = label if i % 4 else str((int(label) + 3) % 10)
            with httpx.Client(timeout=60) as http:
                image = rawapi.upload(http, url, data, f"flag{i}.png")
                return ID.search(rawapi.call(http, url, "feedback", image, "digits", predicted, label)).group(1)

        with ThreadPoolExecutor(8) as pool:
            ids.extend(pool.map(one, range(offset, offset + n)))

    with launched(recorder) as url:
        flag(url, 80, 0)
        standin.down()  # the sheet is gone for a stretch: flags are still stored and confirmed at once
        flag(url, 60, 80)
        standin.up()
        flag(url, 60, 140)
    standin.calm()
    wait_until_sent(recorder.store, seconds=60)

    assert len(ids) == len(set(ids)) == 200
    assert sorted(sheet_ids(standin)) == sorted(ids)  # exactly 200 rows, each once
    assert sorted(r.id for r in recorder.store.records()) == sorted(ids)  # and all 200 kept locally
    rows = {row[0]: row for row in standin.values("feedback")[1:]}
    assert all(rows[r.id] == sheet_row(r) for r in recorder.store.records())
    assert recorder.store.outbox_counts(SINK) == {"waiting": 0, "in_doubt": 0, "parked": 0, "delivered": 200}
    sender = recorder.sink(SINK).sender
    assert all(standin.counts[f"failure_{k}"] >= 1 for k in KINDS) and standin.counts["went_down"] == 1
    assert sender.stats["failures"] >= len(KINDS) and sender.stats["already_there"] > 0
