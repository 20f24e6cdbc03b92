"""The app's documented HTTP API without gradio_client: upload a file, call an endpoint, read the answer.

gradio_client costs about 100 ms of CPU a call on this 2-core machine, these bare calls about 20 ms
(server included), which keeps the tests with hundreds of clients' calls fast. Same protocol as the
README: POST /gradio_api/upload, POST /gradio_api/call/<name>, then GET the server-sent events.
"""

from __future__ import annotations

import json

import httpx


class CallError(Exception):
    """The endpoint answered with an error (its message is the one the page would show)."""


def upload(http: httpx.Client, base_url: str, data: bytes, name: str = "image.png") -> dict:
    response = http.post(f"{base_url}/gradio_api/upload", files={"files": (name, data, "application/octet-stream")})
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": name}


def call(http: httpx.Client, base_url: str, api_name: str, *args, headers: dict | None = None):
    """Call `/api_name` with `args`; returns its (single) output or raises CallError."""
    response = http.post(f"{base_url}/gradio_api/call/{api_name}", json={"data": list(args)}, headers=headers)
    response.raise_for_status()
    event_id = response.json()["event_id"]
    event = None
    with http.stream("GET", f"{base_url}/gradio_api/call/{api_name}/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line[5:])
                if event == "error":
                    message = payload.get("error") or payload.get("message") if isinstance(payload, dict) else payload
                    raise CallError(str(message))
                return payload[0]
    raise CallError("the stream ended without an answer")


def queue_call(http: httpx.Client, base_url: str, fn_index: int, data: list, session_hash: str) -> list:
    """Call a listener by its index through the queue, as the page does (page-only listeners included:
    the queue accepts them from anyone); returns all its outputs or raises CallError."""
    response = http.post(f"{base_url}/gradio_api/queue/join", json={
        "data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": None, "trigger_id": None})
    response.raise_for_status()
    event_id = response.json()["event_id"]
    with http.stream("GET", f"{base_url}/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                output = message.get("output") or {}
                if not message.get("success", True) or "error" in output:
                    raise CallError(str(output.get("error")))
                return output["data"]
    raise CallError("the stream ended without an answer")
