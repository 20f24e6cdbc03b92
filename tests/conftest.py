"""Shared fixtures: small committed data, and the real app launched once on a free loopback port."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from handwriting.config import quiet_third_parties  # noqa: E402

quiet_third_parties()  # before gradio is imported
os.environ["HF_HUB_OFFLINE"] = "1"
# Feedback goes to a throw-away store, never ./data, and never to a real Google Sheet.
_STORE = tempfile.mkdtemp(prefix="handwriting-test-store-")
atexit.register(shutil.rmtree, _STORE, ignore_errors=True)
os.environ["HANDWRITING_STORE_DIR"] = _STORE
# The API tests play many rounds from 127.0.0.1 and read their scores from the table: a test app allows
# that (the caps and the page-only table have tests of their own, with their own Game).
os.environ["HANDWRITING_GAME_ROUNDS_PER_CLIENT"] = "1000"
os.environ["HANDWRITING_GAME_API_SCORES"] = "1"
os.environ["HANDWRITING_GAME_TABLE_PER_CLIENT"] = "0"  # every round in the table, not one per address a day
for _name in ("GOOGLE_SHEETS_KEY", "GOOGLE_SERVICE_ACCOUNT_FILE", "GOOGLE_SERVICE_ACCOUNT_JSON", "HANDWRITING_SHEETS_ENDPOINT"):
    os.environ.pop(_name, None)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(ROOT))

from postgres_server import backend, database_url, postgres_cluster  # noqa: E402,F401 (fixtures: a PostgreSQL server)


SLOW_FIXTURES = {"app_url"}  # the launched app: everything using it (client, http, browser pages) is slow


def pytest_collection_modifyitems(config, items):
    """`-m "not slow"` is the fast subset: no browser, no launched app, no long runs (marked where they are)."""
    for item in items:
        if "browser" in item.keywords or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mnist_samples() -> tuple[np.ndarray, np.ndarray]:
    """200 MNIST test digits (20 per class), uint8 28x28 white on black, and their labels."""
    with np.load(FIXTURES / "mnist_test_200.npz") as d:
        return d["x"], d["y"].astype(int)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> str:
    """The real app (`app.demo`), launched on 127.0.0.1 for the whole test session."""
    os.environ.setdefault("HANDWRITING_STORE_DIR", str(tmp_path_factory.mktemp("store")))
    import app

    port = free_port()
    app.demo.queue(default_concurrency_limit=app.PREDICT_CONCURRENCY).launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **app.launch_options()
    )
    yield f"http://127.0.0.1:{port}/"
    app.demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)
