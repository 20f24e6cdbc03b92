"""Replay the hardening issue's attacks against `python app.py` and print what each cost the server.

    python -m benchmarks.probe_limits                        # this checkout (about 3 minutes here)
    python -m benchmarks.probe_limits --root /tmp/old-main   # another checkout's app.py, for a before/after

The app runs in a subprocess on 127.0.0.1 (benchmarks/server.py: its own store and upload cache). For each
attack the server's peak RSS is reset (/proc/PID/clear_refs) and read back (VmHWM) after it, against its
RSS just before; the wall time is that of the whole attack. Loopback only, every loop bounded.

1. bombs: 8 concurrent /predict of a ~100-byte PNG whose header says 7000x7000 RGBA, then of a ~200 KB
   PNG that really decodes to 7000x7000 RGBA (all transparent);
2. largest accepted: 8 concurrent /predict of a real 4000x4000 RGBA PNG (16 MP, a digit on it);
3. sketch layers: /predict_sketch with 6 layers naming one 50 MP upload; then a 50 MP background and 10
   tiny layers;
4. game flood: 200 /game_start from one address, then one from another address (127.0.0.2);
5. farming: a 10 s API round answered by a script with the fixture digits as fast as the server allows,
   then one paced at the game's floor (MIN_ANSWER_S), each drawing new; where the page's table puts it;
6. a visitor's prediction (the page's own listener, one session) then HANDWRITING_MAX_SESSIONS + 100
   stateless /model_info calls, then the visitor's Yes: stored or lost.

Round two (issue 19):
7. session flood: a visitor from 127.0.0.2 predicts, then 1,300 calls of the page's live listener from
   127.0.0.1, each a new session holding state; then five new visitors, then the first visitor's Yes;
8. progressive JPEGs: 8 concurrent /predict of a 7071x7071 progressive 4:4:4 JPEG (a digit on white),
   then of a 4000x4000 one (the largest accepted), then a sketch whose 6 layers name the 4000x4000 one;
9. huge data: URLs: 4 concurrent /predict whose image is a data: URL of a PNG plus 100 MB;
10. a remote file: /predict of a FileData whose path is an http:// URL (to a closed loopback port);
11. a 10 MB task string, and a task outside the choices: how long the message is;
12. twenty /feedback calls reusing one 9.8 MB PNG upload (a digit plus a large ancillary chunk): store growth;
13. the Game tab's own listeners: 20 misses, Clears and empty Submits (tracebacks logged); a script answering
    every 0.81 s for 90 s with rotated fixture digits, then again from the same address (where the table puts it).
Last, the number of tracebacks in the server's log over the whole run.

Writes benchmarks/results/probe_limits.json (or --out).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import re
import sys
import tempfile
import threading
import time
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from benchmarks.http_api import ApiError, call, new_client, sketch_value, upload
from benchmarks.measure import proc_status, save_result
from benchmarks.server import ROOT, AppProcess

sys.path.insert(0, str(ROOT / "tests"))
import imagegen  # noqa: E402  (the tests' image makers: header bombs, canvases)

FIXTURE = ROOT / "tests" / "fixtures" / "mnist_test_200.npz"
FLOOR_S = 0.8  # handwriting.game.rules.MIN_ANSWER_S: the pace of the second scripted round, whatever the checkout


def probe_ok(client: httpx.Client, url: str) -> None:
    call(client, url, "model_info", [])


class Meter:
    """Peak RSS of the server during a block, over its RSS before, and the block's wall time."""

    def __init__(self, pid: int):
        self.pid = pid

    def __enter__(self):
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        self.before = proc_status(self.pid, "VmRSS")["VmRSS"]
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        status = proc_status(self.pid, "VmHWM", "VmRSS")
        self.figures = {"rss_before_mb": round(self.before, 1), "peak_over_before_mb": round(status["VmHWM"] - self.before, 1),
                        "rss_after_mb": round(status["VmRSS"], 1), "seconds": round(self.seconds, 2)}


def attempt(fn):
    """fn() -> ("ok", its result) or ("error", the message the server gave)."""
    try:
        return "ok", fn()
    except ApiError as exc:
        return "error", (exc.message or "")[:120]
    except httpx.HTTPError as exc:
        return "http error", str(exc)[:120]


def concurrent_predicts(app, data: bytes, n: int = 8) -> dict:
    clients = [new_client() for _ in range(n)]
    files = [upload(c, app.url, data, "image.png") for c in clients]
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        return attempt(lambda: call(clients[i], app.url, "predict", [files[i], "digits"])[0])

    with Meter(app.pid) as meter, ThreadPoolExecutor(n) as pool:
        answers = list(pool.map(one, range(n)))
    time.sleep(2)
    settled = proc_status(app.pid, "VmRSS")["VmRSS"]
    return {**meter.figures, "rss_2s_later_mb": round(settled, 1),
            "answers": sorted({f"{kind}: {value.get('label') if isinstance(value, dict) else value}" for kind, value in answers})}


def attempt_step(step):
    """A step's figures, or what broke it (an old checkout may not have the listener a step drives)."""
    try:
        return step()
    except Exception as exc:  # noqa: BLE001  (the probe reports, it does not stop)
        return {"step_failed": f"{type(exc).__name__}: {str(exc)[:200]}"}


def largest_accepted_png() -> bytes:
    digits = np.load(FIXTURE)
    ink = np.array(Image.fromarray(imagegen.dark_on_white(digits["x"][list(digits["y"]).index(4)], 3000)))
    canvas = np.full((4000, 4000), 255, np.uint8)
    canvas[500:3500, 500:3500] = ink
    rgba = np.dstack([canvas, canvas, canvas, np.full_like(canvas, 255)])
    return imagegen.encode(rgba)


def sketch_attacks(app) -> dict:
    client = new_client()
    huge = upload(client, app.url, imagegen.encode(Image.new("L", (7071, 7071), 255)), "huge.png")
    tiny = upload(client, app.url, imagegen.encode(Image.new("RGBA", (16, 16), (0, 0, 0, 0))), "tiny.png")
    out = {}
    for name, value in (("6_layers_of_one_50mp_upload", {**sketch_value(), "layers": [huge] * 6}),
                        ("50mp_background_10_tiny_layers", {**sketch_value(), "background": huge, "layers": [tiny] * 10})):
        with Meter(app.pid) as meter:
            kind, said = attempt(lambda: call(client, app.url, "predict_sketch", [value, "digits"])[0])
        out[name] = {**meter.figures, "answer": f"{kind}: {said}"}
    return out


def game_flood(app) -> dict:
    client = new_client()
    refused, first_refusal = 0, None
    with Meter(app.pid) as meter:
        for _ in range(200):
            kind, said = attempt(lambda: call(client, app.url, "game_start", ["digits", 5, "", False])[0])
            if kind != "ok":
                refused += 1
                first_refusal = first_refusal or said
    other = httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    kind, said = attempt(lambda: call(other, app.url, "game_start", ["digits", 30, "", False])[0])
    return {**meter.figures, "starts": 200, "refused": refused, "refusal": first_refusal,
            "another_address_can_start": kind == "ok"}


def farming(app) -> dict:
    time.sleep(6)  # the game flood's 5 s rounds end first: they count against this address's rounds in play
    digits = np.load(FIXTURE)
    client = new_client()
    pool = {str(d): [upload(client, app.url, imagegen.encode(imagegen.canvas_rgba(x)))
                     for x in digits["x"][digits["y"] == d]] for d in range(10)}
    out = {}
    for pace in (0.0, None):
        state = call(client, app.url, "game_start", ["digits", 10, f"script pace {pace}", False])[0]
        rid, used = state["round_id"], {d: 0 for d in pool}
        while isinstance(state, dict) and not state.get("over"):  # until time is up (then submit says so)
            target = state["target"]
            drawing = pool[target][used[target] % len(pool[target])]
            used[target] += 1
            if pace is None:
                time.sleep(FLOOR_S + 0.02)
            _, state = attempt(lambda: call(client, app.url, "game_submit", [rid, sketch_value(drawing)])[0])
        summary = call(client, app.url, "game_end", [rid])[0].get("summary", {})
        out["as_fast_as_possible" if pace == 0.0 else "at_the_floor_pace"] = {
            "score": summary.get("score"), "right": summary.get("right"), "drawn": summary.get("drawn"),
            "page_table_rank": summary.get("high_score_rank")}
    table = call(client, app.url, "game_high_scores", ["digits"])[0]
    out["script_rows_in_page_table"] = sum(str(e["name"]).startswith("script") for e in table)
    return out


def page_listener(client, url: str, names: tuple[str, ...], first_input: str | None = None) -> int | None:
    """The id of the page's listener whose api_name is one of `names` (private ones included)."""
    config = client.get(f"{url}/config").json()
    kinds = {c["id"]: c.get("type") for c in config["components"]}
    for dep in config["dependencies"]:
        name = str(dep.get("api_name") or "").rsplit("_", 1)
        if dep.get("api_name") in names or name[0] in names:
            if first_input is None or (dep["inputs"] and kinds.get(dep["inputs"][0]) == first_input):
                return dep["id"]
    return None


def queue_call(client, url, fn_index, data, session):
    response = client.post(f"{url}/gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                                                                  "session_hash": session, "trigger_id": None})
    response.raise_for_status()
    event_id = response.json()["event_id"]
    import json

    with client.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    return (message.get("output") or {}).get("data") or [str((message.get("output") or {}).get("error"))]
    return []


def visitor_after_flood(app, sessions: int) -> dict:
    client = new_client()
    digits = np.load(FIXTURE)
    seven = upload(client, app.url, imagegen.encode(imagegen.dark_on_white(digits["x"][list(digits["y"]).index(7)])))
    session = uuid.uuid4().hex
    predict = page_listener(client, app.url, ("page_predict", "page_answer"), "image")
    if predict is not None:
        queue_call(client, app.url, predict, [seven, "digits"], session)
    else:  # the code before the fix: the page's remember listener took the label from the client
        remember = page_listener(client, app.url, ("remember",), "image")
        queue_call(client, app.url, remember, [seven, "digits", {"label": "7", "confidences": [{"label": "7", "confidence": 0.99}]}], session)
    with Meter(app.pid) as meter:
        for _ in range(sessions + 100):
            call(client, app.url, "model_info", [])
    confirm = page_listener(client, app.url, ("confirm",))
    said = queue_call(client, app.url, confirm, [None], session)
    status = next((s for s in said if isinstance(s, str) and ("Stored" in s or "Not stored" in s)), str(said)[:200])
    return {**meter.figures, "api_calls": sessions + 100, "visitor_yes": status[:160],
            "kept": "Stored feedback record" in status}


def session_flood(app, sessions: int = 1300) -> dict:
    digits = np.load(FIXTURE)
    drawing = "data:image/png;base64," + base64.b64encode(
        imagegen.encode(imagegen.canvas_rgba(digits["x"][list(digits["y"]).index(3)]))).decode()
    seven = imagegen.encode(imagegen.dark_on_white(digits["x"][list(digits["y"]).index(7)]))
    elsewhere = httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    client = new_client()
    live = page_listener(client, app.url, ("page_live",), "html")
    predict = page_listener(client, app.url, ("page_predict", "page_answer"), "image")
    visitor = uuid.uuid4().hex
    queue_call(elsewhere, app.url, predict, [upload(elsewhere, app.url, seven), "digits"], visitor)

    def flood(_):
        with new_client() as one:
            return str(queue_call(one, app.url, live, [drawing, "digits"], uuid.uuid4().hex)[0])[:80]

    with Meter(app.pid) as meter, ThreadPoolExecutor(4) as pool:
        flooded = list(pool.map(flood, range(sessions)))
    newcomers = [str(queue_call(client, app.url, live, [drawing, "digits"], uuid.uuid4().hex)[0])[:80] for _ in range(5)]
    confirm = page_listener(client, app.url, ("confirm",))
    said = queue_call(elsewhere, app.url, confirm, [None], visitor)
    status = next((s for s in said if isinstance(s, str) and ("Stored" in s or "Not stored" in s)), str(said)[:200])
    return {**meter.figures, "flood_sessions": sessions,
            "flood_answered": sum("'label': '3'" in a for a in flooded),
            "new_visitors_served": sum("'label': '3'" in a for a in newcomers), "older_visitor_yes": status[:120],
            "older_visitor_kept": "Stored feedback record" in status}


def progressive_jpeg(side: int) -> bytes:
    from PIL import ImageDraw

    img = Image.new("RGB", (side, side), "white")
    ImageDraw.Draw(img).line([(side // 2, side // 4), (side // 2, 3 * side // 4)], fill="black", width=side // 25)
    return imagegen.encode(img, "JPEG", quality=50, progressive=True, subsampling=0)


def progressive_sketch(app, data: bytes) -> dict:
    client = new_client()
    part = upload(client, app.url, data, "progressive.jpg")
    with Meter(app.pid) as meter:
        kind, said = attempt(lambda: call(client, app.url, "predict_sketch", [{**sketch_value(), "layers": [part] * 6}, "digits"])[0])
    return {**meter.figures, "answer": f"{kind}: {str(said)[:100]}"}


def huge_data_urls(app, n: int = 4, extra_mb: int = 100) -> dict:
    digits = np.load(FIXTURE)
    png = imagegen.encode(imagegen.dark_on_white(digits["x"][0]))
    body = json.dumps({"data": [{"url": "data:image/png;base64," + base64.b64encode(png + b"\0" * (extra_mb * 2**20)).decode(),
                                 "path": None, "meta": {"_type": "gradio.FileData"}}, "digits"]}).encode()
    clients = [new_client() for _ in range(n)]
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        try:
            response = clients[i].post(f"{app.url}/gradio_api/call/predict", content=body,
                                       headers={"content-type": "application/json"})
            return f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            return f"http error: {type(exc).__name__}"

    with Meter(app.pid) as meter, ThreadPoolExecutor(n) as pool:
        answers = sorted(set(pool.map(one, range(n))))
    return {**meter.figures, "body_mb": round(len(body) / 2**20), "answers": answers}


def remote_file(app) -> dict:
    client = new_client()
    closed_port = free_port_number()
    remote = {"path": f"http://127.0.0.1:{closed_port}/big.png", "meta": {"_type": "gradio.FileData"}}
    before = set(Path(app.workdir / "gradio-uploads").rglob("*"))
    kind, said = attempt(lambda: call(client, app.url, "predict", [remote, "digits"])[0])
    return {"answer": f"{kind}: {str(said)[:120]}",
            "new_files_in_cache": len(set(Path(app.workdir / "gradio-uploads").rglob("*")) - before)}


def free_port_number() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def echoes(app) -> dict:
    client = new_client()
    digits = np.load(FIXTURE)
    image = upload(client, app.url, imagegen.encode(imagegen.dark_on_white(digits["x"][0])))
    out = {}
    for name, task in (("10mb_task", "k" * 10_000_000), ("unknown_task", "symbols")):
        try:
            said = str(call(client, app.url, "predict", [image, task])[0])
        except ApiError as exc:
            said = exc.message or ""
        out[name] = {"answer_chars": len(said), "answer": said[:100]}
    return out


def feedback_flood(app, calls: int = 20) -> dict:
    """`calls` /feedback calls reusing ONE upload: a digit PNG padded to ~9.8 MB with a private ancillary
    chunk (viewers and the model skip it); how much the store folder grew."""
    digits = np.load(FIXTURE)
    png = imagegen.encode(imagegen.dark_on_white(digits["x"][list(digits["y"]).index(7)], 96))
    body = np.random.default_rng(0).integers(0, 256, int(9.8 * 2**20), dtype=np.uint8).tobytes()
    chunk = len(body).to_bytes(4, "big") + b"zzZz" + body + zlib.crc32(b"zzZz" + body).to_bytes(4, "big")
    padded = png[:33] + chunk + png[33:]  # after the signature and IHDR, before the pixels

    def store_bytes() -> int:
        return sum(p.stat().st_size for p in Path(app.store_dir).rglob("*") if p.is_file())

    client = new_client()
    file = upload(client, app.url, padded, "padded.png")
    before = store_bytes()
    with Meter(app.pid) as meter:
        answers = [attempt(lambda: call(client, app.url, "feedback", [file, "digits", "7", "7"])[0]) for _ in range(calls)]
    return {**meter.figures, "upload_mb": round(len(padded) / 2**20, 2), "calls": calls,
            "stored": sum(kind == "ok" for kind, _ in answers), "store_growth_mb": round((store_bytes() - before) / 2**20, 2),
            "errors": sorted({str(v) for kind, v in answers if kind != "ok"})[:3]}


PAGE_SCRIPT_S = 0.81  # the scripted player: one answer this long after each target appeared


def game_listeners(client, url: str, *names: str) -> list[int | None]:
    """The ids of the Game tab's listeners named `names` (other tabs have listeners of the same names):
    those whose outputs hold the game's target."""
    config = client.get(f"{url}/config").json()
    target = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "game-target")
    found = {dep.get("api_name"): dep["id"] for dep in config["dependencies"] if target in dep.get("outputs", [])}
    return [next((i for api, i in found.items() if api == name or str(api).rsplit("_", 1)[0] == name), None)
            for name in names]  # Gradio numbers a name taken by another tab: page_live_3


def page_script(app, seconds: int = 90) -> dict:
    """A script driving the page's own listeners (one browser session): start a round, then every
    PAGE_SCRIPT_S submit a fixture digit of the asked target, rotated a few degrees so no two images repeat;
    its score, what the page said about the table, and whether the page's table shows it."""
    client, session = new_client(), uuid.uuid4().hex
    start, submit, end = game_listeners(client, app.url, "page_start", "page_submit", "page_end")
    digits = np.load(FIXTURE)
    pool = {str(d): list(digits["x"][digits["y"] == d]) for d in range(10)}
    used = {d: 0 for d in pool}

    def target_of(out) -> str | None:
        found = re.search(r"game-target-char[^>]*>([^<]+)<", json.dumps(out))
        return found.group(1) if found else None

    def drawing(target: str) -> str:
        n = used[target]
        used[target] += 1
        x = pool[target][n % len(pool[target])]
        turned = np.asarray(Image.fromarray(x).rotate(3 * (n // len(pool[target]) + 1) * (-1) ** n, resample=Image.BILINEAR))
        return "data:image/png;base64," + base64.b64encode(imagegen.encode(imagegen.canvas_rgba(turned))).decode()

    name = f"page script {uuid.uuid4().hex[:4]}"
    out = queue_call(client, app.url, start, ["digits", seconds, name, False, None], session)
    target, shown, deadline, answers = target_of(out), time.monotonic(), time.monotonic() + seconds, 0
    while target and time.monotonic() < deadline:
        time.sleep(max(0.0, shown + PAGE_SCRIPT_S - time.monotonic()))
        out = queue_call(client, app.url, submit, [None, drawing(target)], session)
        target, shown, answers = target_of(out), time.monotonic(), answers + 1
    report = json.dumps(queue_call(client, app.url, end, [None], session))
    points = re.search(r"Round over: \*\*(\d+)\*\* points", report)
    rank = re.search(r"Number \*\*(\d+)\*\*", report)
    held = re.search(r"Held back from the high scores: ([^\"]*?)\.(?:\\n|\")", report)
    right = re.search(r"(\d+) right of (\d+) drawn", report)
    table = call(client, app.url, "game_high_scores", ["digits"])[0]
    return {"answers_sent": answers, "score": int(points.group(1)) if points else None,
            "right_of_drawn": right.group(0) if right else None, "page_rank": int(rank.group(1)) if rank else None,
            "held_back": held.group(1)[:160] if held else None,
            "in_page_table": any(e["name"] == name for e in table), "table_top_score": table[0]["score"] if table else None}


def page_misses_log(app, misses: int = 20) -> dict:
    """A page round of strokes that are not hits (judged live), Clear and empty Submits, through the page's
    own listeners; the tracebacks the server logged meanwhile."""
    client, session = new_client(), uuid.uuid4().hex
    start, live, submit, end = game_listeners(client, app.url, "page_start", "page_live", "page_submit", "page_end")
    digits = np.load(FIXTURE)
    before = app.log_path.read_text(errors="replace").count("Traceback")
    out = json.dumps(queue_call(client, app.url, start, ["digits", 60, "", False, None], session))
    target = re.search(r"game-target-char[^>]*>([^<]+)<", out).group(1)
    wrong = next(i for i, y in enumerate(digits["y"]) if str(y) != target and str(y) not in "17")
    miss = "data:image/png;base64," + base64.b64encode(imagegen.encode(imagegen.canvas_rgba(digits["x"][wrong]))).decode()
    for _ in range(misses):
        for fn, data in ((live, [None, miss]), (live, [None, ""]), (submit, [None, ""])):  # a miss, Clear, empty Submit
            queue_call(client, app.url, fn, data, session)
    queue_call(client, app.url, end, [None], session)
    time.sleep(0.5)
    log = app.log_path.read_text(errors="replace")
    return {"events": 3 * misses, "tracebacks_logged": log.count("Traceback") - before,
            "not_enough_output_values": log.count("didn't return enough output values")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose app.py is probed")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "probe_limits.json")
    parser.add_argument("--only", nargs="*", help="run only these steps (by name)")
    args = parser.parse_args(argv)
    sessions = 1000
    with tempfile.TemporaryDirectory(prefix="probe-limits-") as workdir:
        app = AppProcess([sys.executable, str(args.root / "app.py")], Path(workdir), "app", probe_ok,
                         extra_env={"HANDWRITING_MAX_SESSIONS": str(sessions)})
        try:
            time.sleep(1)
            result = {"root": str(args.root), "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      "app_rss_at_start_mb": round(proc_status(app.pid, "VmRSS")["VmRSS"], 1)}
            bomb = imagegen.encode(Image.new("RGBA", (7000, 7000)))  # ~200 KB that decode to 49 MP of RGBA
            steps = [("header_bombs_8x_7000x7000", lambda: concurrent_predicts(app, imagegen.png_header_bomb(7000, 7000))),
                     ("zero_bombs_8x_7000x7000_rgba", lambda: concurrent_predicts(app, bomb)),
                     ("largest_accepted_8x_16mp_png", lambda: concurrent_predicts(app, largest_accepted_png())),
                     ("sketch", lambda: sketch_attacks(app)),
                     ("game_flood", lambda: game_flood(app)),
                     ("farming", lambda: farming(app)),
                     ("visitor_after_api_flood", lambda: visitor_after_flood(app, sessions)),
                     ("progressive_8x_7071x7071_jpeg", lambda: concurrent_predicts(app, progressive_jpeg(7071))),
                     ("progressive_8x_4000x4000_jpeg", lambda: concurrent_predicts(app, progressive_jpeg(4000))),
                     ("progressive_sketch_6_layers_4000", lambda: progressive_sketch(app, progressive_jpeg(4000))),
                     ("data_urls_4x_100mb", lambda: huge_data_urls(app)),
                     ("remote_file", lambda: remote_file(app)),
                     ("echoes", lambda: echoes(app)),
                     ("feedback_flood_20x_9.8mb_upload", lambda: feedback_flood(app)),
                     ("page_misses_log", lambda: page_misses_log(app)),
                     ("page_script_90s", lambda: page_script(app)),
                     ("page_script_again_same_address", lambda: page_script(app, 30)),
                     # last: on the code before the fix it locks every later caller out
                     ("session_flood_1300_holding_state", lambda: session_flood(app))]
            for name, step in steps:
                if args.only and name not in args.only:
                    continue
                result[name] = attempt_step(step)
                print(name, result[name], flush=True)
        finally:
            app.stop()
        log = app.log_path.read_text(errors="replace")
        result["tracebacks_in_server_log"] = log.count("Traceback (most recent call last)")
        print("tracebacks in the server log:", result["tracebacks_in_server_log"])
    save_result(result, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
