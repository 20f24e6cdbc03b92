"""The app's HTTP API without gradio_client: the Gradio queue protocol, as a browser-less client speaks it.

POST /gradio_api/upload (multipart), POST /gradio_api/call/<api> {"data": [...]} -> {"event_id"},
then GET /gradio_api/call/<api>/<event_id>: server-sent events ending in `event: complete` (the outputs)
or `event: error` (data {"error": message, ...}, the gr.Error the page would show).
gradio_client polls with a 50 ms sleep; this does not, so it measures the server.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

TIMEOUT = httpx.Timeout(60.0)  # the first call may load the model on a busy machine


def new_client() -> httpx.Client:
    """A client for the loopback server. Creating one costs milliseconds of CPU (httpx builds an SSL
    context even for http://): make clients before a timed phase, not in it."""
    return httpx.Client(timeout=TIMEOUT, verify=False)  # plain http on 127.0.0.1: no certificates involved


class ApiError(RuntimeError):
    """The endpoint answered `event: error`; `message` is what it said (None if it said nothing)."""

    def __init__(self, api: str, message: str | None):
        super().__init__(f"{api}: {message}")
        self.api = api
        self.message = message


class ProtocolError(RuntimeError):
    """The stream ended without an answer, or held something unexpected."""


def file_data(remote_path: str) -> dict:
    return {"path": remote_path, "meta": {"_type": "gradio.FileData"}}


def sketch_value(composite: dict | None = None) -> dict:
    """A Sketchpad (image editor) value with only a composite, as the browser sends a drawing."""
    return {"background": None, "layers": [], "composite": composite, "id": None}


def upload(client: httpx.Client, base: str, data: bytes | Path, name: str | None = None) -> dict:
    """Upload bytes or a file; its FileData for a call. Raises httpx.HTTPStatusError (413: too big)."""
    if isinstance(data, Path):
        name, data = name or data.name, data.read_bytes()
    response = client.post(f"{base}/gradio_api/upload", files=[("files", (name or "image.png", data, "application/octet-stream"))])
    response.raise_for_status()
    return file_data(response.json()[0])


def call(client: httpx.Client, base: str, api: str, data: list, session_hash: str | None = None) -> list:
    """Run `api` with `data`; its output list. Raises ApiError, ProtocolError or an httpx error.

    Without `session_hash` (as curl users call it) Gradio makes a new session for every call: a copy of
    every component's config, ~7 ms of server CPU and ~190 KB kept until `state_session_capacity`
    (10,000 by default) sessions exist. A browser tab or a gradio_client Client keeps one session."""
    body = {"data": data} if session_hash is None else {"data": data, "session_hash": session_hash}
    response = client.post(f"{base}/gradio_api/call/{api}", json=body)
    response.raise_for_status()
    event_id = response.json()["event_id"]
    event = None
    with client.stream("GET", f"{base}/gradio_api/call/{api}/{event_id}") as stream:
        stream.raise_for_status()
        for line in stream.iter_lines():  # ends when the server closes the stream
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line[5:])
                if event == "error":
                    message = payload.get("error") if isinstance(payload, dict) else payload
                    raise ApiError(api, None if message is None else str(message))
                return payload
    raise ProtocolError(f"{api}: the stream ended without a complete or error event (last event {event!r})")


def predict_label(client: httpx.Client, base: str, api: str, path: Path, task: str = "digits",
                  session_hash: str | None = None) -> str:
    """Upload `path`, run /predict (an image) or /predict_sketch (as the composite); the top label."""
    remote = upload(client, base, path)
    image = sketch_value(remote) if api == "predict_sketch" else remote
    return call(client, base, api, [image, task], session_hash)[0]["label"]
