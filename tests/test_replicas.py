"""Replicas: behind nginx (deploy/), every session meets one replica, cookie-less callers stick by address
and sessions spread over the replicas; three app processes on one PostgreSQL database store each
acknowledged correction once (one replica killed mid-burst), honour one Idempotency-Key across replicas,
race their outboxes to the Sheets stand-in without sending a record twice, and show one high-score table."""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from conftest import free_port
from rawapi import call, upload
from test_browser import browser  # noqa: F401 (fixture: headless chromium)
from test_sheets import account, key_pair  # noqa: F401 (fixtures: a service account the stand-in trusts)

pytestmark = pytest.mark.slow


def digit_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(255 - pixels).save(buf, format="PNG")  # dark ink on white, as a photo
    return buf.getvalue()


@pytest.fixture(scope="module")
def run_dirs():
    """Folders for processes that outlive a test: outside pytest's temporary folders, which another pytest
    run on this machine may prune while a long module runs. Removed at the end."""
    made = []

    def make(prefix: str) -> Path:
        made.append(Path(tempfile.mkdtemp(prefix=f"handwriting-{prefix}-")))
        return made[-1]

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def replicas(run_dirs):
    from deploy.serve_replicas import Replicas

    run = run_dirs("nginx")
    env = {"HANDWRITING_STORE_DIR": str(run / "store"), "HF_HUB_OFFLINE": "1"}
    with Replicas(3, free_port(), run_dir=run, env=env) as started:
        yield started


def served_by(replicas) -> dict[str, set[str]]:
    """Session cookie -> the replicas that served it, from nginx's access log."""
    seen = defaultdict(set)
    for line in (replicas.run_dir / "access.log").read_text().splitlines():
        match = re.search(r" (\d+) (127\.0\.0\.1:\d+) \"([^\"]*)\"$", line)
        if match and match.group(3):
            seen[match.group(3)].add(match.group(2))
    return seen


def from_address(address: str) -> httpx.Client:
    """A client connecting from `address` (any 127.x.y.z is this machine): another visitor to nginx."""
    return httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address=address))


def test_each_session_meets_one_replica_and_sessions_spread(replicas, mnist_samples):
    x, y = mnist_samples
    cookies = []
    for i in range(9):
        with from_address(f"127.0.0.{i + 2}") as http:  # a browser or gradio_client: keeps its cookies
            image = upload(http, replicas.url, digit_png(x[i]))  # a first request that is not stateless
            cookie = http.cookies.get("hw_replica")
            assert cookie
            cookies.append(cookie)
            image = upload(http, replicas.url, digit_png(x[i]))
            answer = call(http, replicas.url, "predict", image, "digits")
            assert "label" in answer or "confidences" in answer or answer
            confirmation = call(http, replicas.url, "feedback", image, "digits", str(y[i]), str(y[i]))
            assert "stored" in confirmation.lower() or "record" in confirmation.lower()
    seen = served_by(replicas)
    assert all(len(seen[c]) == 1 for c in cookies), {c: seen[c] for c in cookies}
    assert len(set().union(*(seen[c] for c in cookies))) >= 2  # not every session on one replica


class NoCookies(httpx.Auth):
    """curl without a cookie jar: every request goes out without the cookie it was given."""

    def auth_flow(self, request):
        request.headers.pop("Cookie", None)
        yield request


def test_a_caller_without_cookies_sticks_by_address(replicas, mnist_samples):
    x, _ = mnist_samples
    for i in range(6):  # upload, then call, then read the events: three requests that must meet one replica
        with from_address(f"127.0.1.{i + 2}") as http:
            http.auth = NoCookies()
            image = upload(http, replicas.url, digit_png(x[i]))
            assert call(http, replicas.url, "predict", image, "digits")


def test_a_session_keeps_its_replica_when_its_address_changes(replicas, mnist_samples):
    x, _ = mnist_samples
    with from_address("127.0.2.2") as first:
        image = upload(first, replicas.url, digit_png(x[0]))
        cookie = first.cookies.get("hw_replica")
    for i in range(3, 9):
        with from_address(f"127.0.2.{i}") as moved:
            moved.cookies.set("hw_replica", cookie)
            assert call(moved, replicas.url, "predict", image, "digits")  # the upload is on its first replica


def test_a_photo_larger_than_nginx_buffers_in_memory_passes(replicas):
    """nginx writes a large request body to a temporary file (its workers' user must reach it)."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (700, 700), dtype=np.uint8)
    noise[250:450, 330:370] = 0  # a dark stroke on noise: a picture of some size, not a blank
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="PNG")
    assert len(buf.getvalue()) > 256 * 1024
    with from_address("127.0.3.2") as http:
        image = upload(http, replicas.url, buf.getvalue())
        assert call(http, replicas.url, "predict", image, "digits")


def test_gradio_client_through_nginx(replicas, mnist_samples, tmp_path):
    from gradio_client import Client, handle_file

    x, y = mnist_samples
    path = tmp_path / "digit.png"
    path.write_bytes(digit_png(x[0]))
    client = Client(replicas.url + "/", verbose=False)
    assert "hw_replica" in client.cookies
    assert client.predict(handle_file(str(path)), "digits", api_name="/predict")


@pytest.mark.browser
def test_the_page_in_chromium_through_nginx_keeps_to_one_replica(replicas, browser):  # noqa: F811
    """A drawing on the page is answered live through nginx (queue events streamed back unbuffered), and
    every request of the browser's session reached one replica."""
    from test_browser import TIMEOUT_MS, draw, seven, wait_for_label

    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(replicas.url + "/")
        draw(page, seven(70, 55, 140, 175))
        wait_for_label(page, "7", "a seven drawn through nginx")
        cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "hw_replica")
    finally:
        page.close()
    assert len(served_by(replicas)[cookie]) == 1


# ---------------------------------------------------------------------------------------------------
# Three app processes on one PostgreSQL database (no balancer: each test picks the replica it calls)

ID = re.compile(r"record ([0-9a-f]{32})")


@pytest.fixture(scope="module")
def sheet(key_pair):
    from sheets_standin import SheetsStandIn
    from test_sheets import EMAIL

    server = SheetsStandIn(key_pair[1], EMAIL, hang_s=1.0, lifetime_s=900)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def db_replicas(run_dirs, postgres_cluster, sheet, account):
    """Three `python app.py` processes sharing one database, copying feedback to the Sheets stand-in."""
    import json

    from deploy.serve_replicas import Replicas

    url = postgres_cluster.create_database()
    run = run_dirs("replicas")
    env = {"HANDWRITING_DATABASE_URL": url, "HANDWRITING_STORE_DIR": str(run / "unused-store"),
           "HF_HUB_OFFLINE": "1", "HANDWRITING_GAME_API_SCORES": "1",
           "GOOGLE_SHEETS_KEY": sheet.spreadsheet_id, "GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(account),
           "HANDWRITING_SHEETS_ENDPOINT": sheet.url, "HANDWRITING_SHEETS_BATCH": "5",
           "HANDWRITING_SHEETS_TIMEOUT": "2", "HANDWRITING_SHEETS_RETRY_BASE": "0.05",
           "HANDWRITING_SHEETS_RETRY_MAX": "0.5", "HANDWRITING_SHEETS_POLL": "0.2"}
    with Replicas(3, None, run_dir=run, env=env) as started:
        started.database_url = url
        yield started


def send_feedback(base: str, png: bytes, label: str, key: str) -> str:
    """One /feedback call with an Idempotency-Key; the stored record's id (raises if not acknowledged)."""
    with httpx.Client(timeout=60) as http:
        image = upload(http, base, png)
        answer = call(http, base, "feedback", image, "digits", label, label, headers={"Idempotency-Key": key})
    return ID.search(answer).group(1)


def stored_ids(url: str) -> list[str]:
    from handwriting.feedback.postgres_store import PostgresFeedbackStore
    from handwriting.postgres import Database

    db = Database(url)
    try:
        return [r.id for r in PostgresFeedbackStore(db).records()]
    finally:
        db.close()


def test_one_key_sent_to_different_replicas_stores_one_record(db_replicas, mnist_samples):
    x, y = mnist_samples
    png = digit_png(x[5])
    ids = [send_feedback(db_replicas.replica_url(i), png, str(y[5]), "same-key-everywhere") for i in (0, 1, 2, 1)]
    assert len(set(ids)) == 1
    assert stored_ids(db_replicas.database_url).count(ids[0]) == 1


def test_corrections_to_three_replicas_with_one_killed_are_each_stored_once(db_replicas, mnist_samples):
    import signal
    import threading
    from concurrent.futures import ThreadPoolExecutor

    x, y = mnist_samples
    acknowledged, failed = [], []
    killed = threading.Event()

    def one(i):
        if i == 40:
            db_replicas.apps[2].send_signal(signal.SIGKILL)  # mid-burst, with requests in flight
            killed.set()
        try:
            acknowledged.append(send_feedback(db_replicas.replica_url(i % 3), digit_png(x[i % 200]), str(y[i % 200]),
                                              f"burst-{i}"))
        except Exception:  # noqa: BLE001 (refused or cut: not acknowledged, so nothing is promised)
            failed.append(i)

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(one, range(120)))
    assert killed.is_set() and failed  # the killed replica's share was not acknowledged
    stored = stored_ids(db_replicas.database_url)
    assert len(acknowledged) >= 70
    assert all(stored.count(i) == 1 for i in acknowledged)
    db_replicas.restart(2)


def test_racing_outboxes_deliver_each_record_to_the_sheet_once(db_replicas, sheet):
    from handwriting.feedback.postgres_store import PostgresFeedbackStore
    from handwriting.postgres import Database

    db = Database(db_replicas.database_url)
    store = PostgresFeedbackStore(db)
    try:
        deadline = time.monotonic() + 120
        while store.waiting("sheets") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert store.waiting("sheets") == 0, store.last_errors("sheets")
        ids = [r.id for r in store.records()]
    finally:
        db.close()
    rows = sheet.values("feedback")[1:]
    on_sheet = [row[0] for row in rows]
    assert sorted(on_sheet) == sorted(ids)  # every stored record, none twice


def test_every_replica_shows_the_same_high_scores(db_replicas):
    from dataclasses import dataclass, field

    from handwriting.game.high_scores import HighScores

    @dataclass
    class Round:
        name: str
        score: int
        client: str = ""
        mode: str = "digits"
        source: str = "page"
        right: int = 3
        drawn: list = field(default_factory=lambda: [1, 2, 3])
        best_streak: int = 2
        seconds: int = 60

    scores = HighScores(".", database_url=db_replicas.database_url)
    for i, name in enumerate(["ada", "bo", "cy"]):
        scores.add(Round(name, 10 * (i + 1), client=f"10.0.0.{i}"))
    tables = []
    for i in range(3):
        with httpx.Client(timeout=60) as http:
            tables.append(call(http, db_replicas.replica_url(i), "game_high_scores", "digits"))
    assert [e["name"] for e in tables[0]] == ["cy", "bo", "ada"]
    assert tables[0] == tables[1] == tables[2]


def storage_note(http: httpx.Client, base: str) -> str:
    """What the Models panel says about storage: the page-load listener whose output is #storage-status."""
    from rawapi import queue_call

    config = http.get(f"{base}/config").json()
    target = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "storage-status")
    fn_index = next(i for i, d in enumerate(config["dependencies"]) if target in d["outputs"])
    return queue_call(http, base, fn_index, [], "storage-probe")[0] or ""


def test_the_database_down_at_start_then_back(run_dirs, mnist_samples):
    """The app starts without its database: it recognises, says corrections cannot be stored (Models panel,
    /feedback), never shows the password, and stores again once the database is up, without a restart."""
    from deploy.serve_replicas import Replicas
    from postgres_server import PASSWORD, PostgresServer

    x, y = mnist_samples
    server = PostgresServer().start()
    url = server.create_database("feedback")
    server.stop()
    run = run_dirs("down")
    env = {"HANDWRITING_DATABASE_URL": url, "HF_HUB_OFFLINE": "1",
           "HANDWRITING_STORE_DIR": str(run / "unused")}
    try:
        with Replicas(1, None, run_dir=run, env=env) as one, httpx.Client(timeout=60) as http:
            base = one.replica_url(0)
            image = upload(http, base, digit_png(x[0]))
            assert call(http, base, "predict", image, "digits")  # recognition serves
            assert "cannot be stored" in storage_note(http, base)
            with pytest.raises(Exception, match="could not be stored"):
                call(http, base, "feedback", image, "digits", str(y[0]), str(y[0]))
            server.start()
            deadline = time.monotonic() + 60
            while True:
                try:
                    assert ID.search(call(http, base, "feedback", image, "digits", str(y[0]), str(y[0])))
                    break
                except Exception:  # noqa: BLE001 (until the pool reconnects)
                    assert time.monotonic() < deadline, "feedback never worked again"
                    time.sleep(1)
            assert storage_note(http, base) == ""
        logs = "".join(p.read_text(errors="replace") for p in run.glob("*.log"))
        assert "cannot be read" in logs or "could not be stored" in logs
        assert PASSWORD not in logs
    finally:
        server.destroy()
