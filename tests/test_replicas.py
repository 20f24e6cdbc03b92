"""Replicas behind nginx (deploy/): every session meets one replica, cookie-less callers stick by address,
and sessions spread over the replicas."""

from __future__ import annotations

import io
import re
from collections import defaultdict

import httpx
import numpy as np
import pytest
from PIL import Image

from conftest import free_port
from rawapi import call, upload

pytestmark = pytest.mark.slow


def digit_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(255 - pixels).save(buf, format="PNG")  # dark ink on white, as a photo
    return buf.getvalue()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    from deploy.serve_replicas import Replicas

    run = tmp_path_factory.mktemp("nginx")
    env = {"HANDWRITING_STORE_DIR": str(tmp_path_factory.mktemp("store")), "HF_HUB_OFFLINE": "1"}
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


def test_gradio_client_through_nginx(replicas, mnist_samples, tmp_path):
    from gradio_client import Client, handle_file

    x, y = mnist_samples
    path = tmp_path / "digit.png"
    path.write_bytes(digit_png(x[0]))
    client = Client(replicas.url + "/", verbose=False)
    assert "hw_replica" in client.cookies
    assert client.predict(handle_file(str(path)), "digits", api_name="/predict")
