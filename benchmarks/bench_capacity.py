"""Capacity under a paced load: K people each asking about once a second, the app beside a bare Gradio app.

    python -m benchmarks.bench_capacity                          # /predict and the live path, K = 10 20 40 80
    python -m benchmarks.bench_capacity --modes predict --clients 10 20 40 --repeats 3 --seconds 15
    python -m benchmarks.bench_capacity --before DIR             # also the app of another checkout (before a fix)
    python -m benchmarks.bench_capacity --replicas 2             # also the app as 2 processes behind nginx
    python -m benchmarks.bench_capacity --profile 40 [--gil]     # py-spy record on each server at K = 40

Servers, each in its own process on this host: `benchmarks/bare_page_app.py` (a bare Gradio app with the
same `/predict` and a page-like live listener, answering a constant), `python app.py`, with `--before DIR`
another checkout's app.py (run with this venv), and with `--replicas N` also N app processes behind a
minimal nginx (sticky by client address, as deploy/ does) on a free loopback port (`app_xN`).

Each of K client threads (own httpx client, own loopback source address 127.0.1.x, so each is a visitor
of its own) sends one request a second at a random phase, for `--seconds` at each K:
- `predict`: upload a 112 px PNG of an MNIST test digit, POST /gradio_api/call/predict (no session hash,
  as scripts call it), read the SSE answer;
- `live`: what the page's drawing pad sends after each stroke: the canvas as a PNG data URL through
  POST /gradio_api/queue/join to the pad's `.change` listener, in the client's own browser session, and
  the answer from the session's /gradio_api/queue/data stream.
A client whose answer comes after its next turn sends at once (a person waits for the answer). The
latency is from sending to the answer. Servers take turns in blocks (one K at a time, order alternating
between repeats; the idle ones frozen with SIGSTOP, as an idle Gradio queue polls every millisecond),
so a host that slows down mid-run slows every server alike. Also per block: answers per second, errors,
and the server's CPU per answer (from /proc: the cost that sets capacity on N cores).

Writes benchmarks/results/capacity.json (medians over repeats, every block's figures) and prints a table.
Loopback only; every loop is bounded by the clock.
"""

from __future__ import annotations

from handwriting.config import quiet_third_parties

quiet_third_parties()  # before gradio is imported

import argparse  # noqa: E402
import base64  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.http_api import TIMEOUT, ApiError, ProtocolError, call, upload  # noqa: E402
from benchmarks.inputs import FIXTURES, render_sketch  # noqa: E402
from benchmarks.measure import cpu_seconds_of, machine_basics, machine_load, save_result  # noqa: E402
from benchmarks.server import APP, HOST, ROOT, AppProcess, free_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "capacity.json"
BARE = [sys.executable, "-m", "benchmarks.bare_page_app"]
PERIOD_S = 1.0  # a person drawing live sends about one stroke a second
P95_LIMIT_MS = 150.0  # "served": p95 at or under this
TARGET_RATIO = 1.5  # app p95 within this of the bare app's
PNG_SIDE = 112
IDLE_S = 3.0  # seconds each server's idle CPU is measured
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


# ---------------------------------------------------------------------------------------------------
# Inputs


def digits(n: int = 20) -> list[np.ndarray]:
    with np.load(FIXTURES) as data:
        return list(data["x"][:n])


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def scan_pngs(n: int = 20) -> list[bytes]:
    """112 px PNGs of MNIST test digits: dark on white."""
    return [png_bytes(Image.fromarray(255 - d).resize((PNG_SIDE, PNG_SIDE), Image.Resampling.BILINEAR)) for d in digits(n)]


def canvas_urls(n: int = 20) -> list[str]:
    """The drawing pad's value after a stroke: its 280x280 canvas as a PNG data URL."""
    return ["data:image/png;base64," + base64.b64encode(png_bytes(Image.fromarray(render_sketch(d)))).decode()
            for d in digits(n)]


# ---------------------------------------------------------------------------------------------------
# Servers


def probe(client: httpx.Client, url: str) -> None:
    call(client, url, "predict", [upload(client, url, scan_pngs(1)[0], "d.png"), "digits"])


class Replicas:
    """N app processes behind a minimal nginx (sticky by client address, SSE unbuffered) on a loopback port.

    Looks like one AppProcess to the benchmark: `url`, `pids`, `pause`, `resume`, `stop`."""

    CONFIG = """worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
{user}
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {run}/temp/body;
    proxy_temp_path {run}/temp/proxy;
    fastcgi_temp_path {run}/temp/fastcgi;
    uwsgi_temp_path {run}/temp/uwsgi;
    scgi_temp_path {run}/temp/scgi;
    upstream app {{
        hash $remote_addr consistent;
{servers}
        keepalive 64;
    }}
    server {{
        listen {host}:{port};
        client_max_body_size 12m;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""

    def __init__(self, command: list[str], n: int, workdir: Path, name: str):
        self.name = name
        self.apps = [AppProcess(command, workdir, f"{name}-{i}", probe) for i in range(n)]
        self.run_dir = Path(workdir) / f"{name}-nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / "temp" / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(self.run_dir / "temp" / sub, 0o1777)
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        servers = "\n".join(f"        server {HOST}:{a.port};" for a in self.apps)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(self.CONFIG.format(run=self.run_dir, servers=servers, host=HOST, port=self.port,
                                           user="user nobody nogroup;" if os.geteuid() == 0 else ""))
        self.nginx = subprocess.Popen([NGINX, "-p", str(self.run_dir), "-e", str(self.run_dir / "error.log"), "-c", str(conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=TIMEOUT) as client:
            while True:
                try:
                    probe(client, self.url)
                    break
                except (httpx.TransportError, httpx.HTTPStatusError):
                    if time.monotonic() > deadline or self.nginx.poll() is not None:
                        self.stop()
                        raise
                    time.sleep(0.1)

    @property
    def pids(self) -> list[int]:
        return [a.pid for a in self.apps]

    def pause(self) -> None:
        for a in self.apps:
            a.pause()

    def resume(self) -> None:
        for a in self.apps:
            a.resume()

    def stop(self) -> None:
        if self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(timeout=15)
        for a in self.apps:
            a.stop()


def pids_of(server) -> list[int]:
    return server.pids if isinstance(server, Replicas) else [server.pid]


def cpu_of(server) -> float:
    return sum(cpu_seconds_of(pid) or 0.0 for pid in pids_of(server))


def live_listener(client: httpx.Client, url: str) -> int:
    """The id of the Digits pad's `.change` listener (page_live): what the browser joins after each stroke."""
    config = client.get(f"{url}/config").json()
    pad = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "digits-sketch")
    return next(dep["id"] for dep in config["dependencies"]
                if dep["inputs"] and dep["inputs"][0] == pad and str(dep.get("api_name") or "").startswith("page_live"))


# ---------------------------------------------------------------------------------------------------
# Requests


def ask_predict(client: httpx.Client, url: str, png: bytes, _session: str, _fn: int | None) -> object:
    return call(client, url, "predict", [upload(client, url, png, "digit.png"), "digits"])[0]


def ask_live(client: httpx.Client, url: str, drawing: str, session: str, fn: int) -> object:
    """One stroke as the browser sends it: join the queue in the tab's session, read its stream to the answer."""
    joined = client.post(f"{url}/gradio_api/queue/join",
                         json={"data": [drawing, "digits"], "event_data": None, "fn_index": fn, "trigger_id": None,
                               "session_hash": session})
    joined.raise_for_status()
    event_id = joined.json()["event_id"]
    with client.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}) as stream:
        stream.raise_for_status()
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("event_id") != event_id or message.get("msg") != "process_completed":
                continue
            output = message.get("output") or {}
            if not message.get("success", True) or "error" in output and output["error"]:
                raise ApiError("page_live", str(output.get("error")))
            return output.get("data")
    raise ProtocolError("page_live: the stream ended without the answer")


ASK = {"predict": ask_predict, "live": ask_live}


def make_clients(k: int) -> list[httpx.Client]:
    """One httpx client per person, each from its own loopback address (a visitor of its own)."""
    return [httpx.Client(timeout=httpx.Timeout(30.0), verify=False,
                         transport=httpx.HTTPTransport(local_address=f"127.0.1.{i + 1}")) for i in range(k)]


def paced_load(clients: list[httpx.Client], url: str, mode: str, inputs: list, seconds: float, fn: int | None,
               seed: int) -> dict:
    """Each client sends every PERIOD_S from a random phase until `seconds` have passed; what came back."""
    rng = random.Random(seed)
    start = time.monotonic() + 0.2
    end = start + seconds
    latencies: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()

    def person(i: int, client: httpx.Client, phase: float) -> None:
        session = uuid.uuid4().hex
        turn = start + phase
        n = i
        while turn < end:
            time.sleep(max(0.0, turn - time.monotonic()))
            sent = time.perf_counter()
            try:
                ASK[mode](client, url, inputs[n % len(inputs)], session, fn)
                with lock:
                    latencies.append((time.perf_counter() - sent) * 1000)
            except (ApiError, ProtocolError, httpx.HTTPError) as exc:
                with lock:
                    errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
            n += 1
            turn = max(turn + PERIOD_S, time.monotonic())

    threads = [threading.Thread(target=person, args=(i, c, rng.random() * PERIOD_S), daemon=True)
               for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    a = np.asarray(latencies, float)
    pct = (lambda q: round(float(np.percentile(a, q)), 1)) if a.size else (lambda q: None)
    return {"answers": int(a.size), "errors": sum(errors.values()), "error_kinds": dict(errors.most_common(3)),
            "answers_per_s": round(a.size / seconds, 1), "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99)}


# ---------------------------------------------------------------------------------------------------
# Profile


def profile(pid: int, seconds: float, out_stem: Path, gil: bool) -> subprocess.Popen:
    """py-spy record on `pid` for `seconds` (with `gil`, only the thread holding the GIL): the collapsed
    stacks, summarised once it ends."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
                             "--format", "raw", "--output", str(out_stem.with_suffix(".txt")), "--nonblocking",
                             *(["--gil"] if gil else [])], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def summarise_profile(raw: Path, what: str, top: int = 30) -> str:
    """From py-spy's collapsed stacks: where the samples' own time was (leaf functions) and the share of
    samples that pass through each function (inclusive), busiest first."""
    leaf, inclusive, total = Counter(), Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        frames = frames[1:] if frames and frames[0].startswith(("process ", "thread ")) else frames
        leaf[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples (py-spy, 100 Hz; {what})", "", "own time (leaf frames):"]
    lines += [f"{100 * n / total:6.1f}%  {f}" for f, n in leaf.most_common(top)]
    lines += ["", "inclusive (samples through the function):"]
    lines += [f"{100 * n / total:6.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------
# The run


def run(args: argparse.Namespace) -> dict:
    commands = {"bare_gradio": (BARE, 1), "app": (APP, 1)}
    if args.before:
        commands["app_before"] = ([sys.executable, str(args.before.resolve() / "app.py")], 1)
    if args.replicas > 1:
        commands[f"app_x{args.replicas}"] = (APP, args.replicas)
    inputs = {"predict": scan_pngs(), "live": canvas_urls()}
    workdir = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
    servers: dict = {}
    blocks: list[dict] = []
    clients = make_clients(max(args.clients))
    try:
        for name, (command, n) in commands.items():
            servers[name] = Replicas(command, n, workdir, name) if n > 1 else AppProcess(command, workdir, name, probe)
            servers[name].pause()
        fns, idle = {}, {}
        for name, s in servers.items():
            s.resume()
            with httpx.Client(timeout=TIMEOUT) as c:
                fns[name] = live_listener(c, s.url) if "live" in args.modes else None
                for _ in range(3):
                    probe(c, s.url)
            cpu0 = cpu_of(s)
            time.sleep(IDLE_S)
            idle[name] = (cpu_of(s) - cpu0) / IDLE_S  # Gradio's queue polls while idle: not a request's cost
            s.pause()
        names = list(servers)
        for repeat in range(args.repeats):
            order = names if repeat % 2 == 0 else names[::-1]
            for mode in args.modes:
                for k in args.clients:
                    for name in order:
                        server = servers[name]
                        server.resume()
                        time.sleep(0.3)
                        paced_load(clients[:k], server.url, mode, inputs[mode], 1.0, fns[name], seed=-1)  # wake up
                        profiler = None
                        if args.profile == k and mode in args.profile_modes and repeat == 0:
                            stem = args.out.with_name(f"{args.out.stem}_profile_k{k}_{mode}_{name}")
                            profiler = profile(pids_of(server)[0], args.seconds, stem, args.gil)
                        cpu0, mine0, load = cpu_of(server), time.process_time(), machine_load()
                        figures = paced_load(clients[:k], server.url, mode, inputs[mode], args.seconds, fns[name],
                                             seed=repeat * 1000 + k)
                        cpu, mine = cpu_of(server) - cpu0, time.process_time() - mine0
                        server.pause()
                        if profiler is not None:
                            profiler.wait(timeout=120)
                            raw = stem.with_suffix(".txt")
                            if raw.exists():
                                summary = summarise_profile(raw, "the thread holding the GIL" if args.gil
                                                            else "threads py-spy does not see as idle")
                                raw.unlink()
                                stem.with_name(stem.name + "_summary.txt").write_text(summary)
                        answers = figures["answers"] or None
                        block = {"repeat": repeat, "mode": mode, "clients": k, "server": name, **figures,
                                 "server_cpu_ms_per_answer": round(1000 * cpu / answers, 2) if answers else None,
                                 "server_cpu_ms_per_answer_above_idle":
                                     round(1000 * max(0.0, cpu - idle[name] * args.seconds) / answers, 2) if answers else None,
                                 "server_cpu_share": round(cpu / args.seconds, 2),
                                 "client_cpu_share": round(mine / args.seconds, 2), "load_before": load}
                        blocks.append(block)
                        print(f"r{repeat} {mode:<8} K={k:<3} {name:<12} p50 {figures['p50_ms']} p95 {figures['p95_ms']} "
                              f"p99 {figures['p99_ms']} ms  {figures['answers_per_s']}/s  err {figures['errors']}  "
                              f"cpu {block['server_cpu_ms_per_answer']} ms/answer (server {block['server_cpu_share']}, "
                              f"clients {block['client_cpu_share']} of a core)", flush=True)
    finally:
        for c in clients:
            c.close()
        for s in servers.values():
            s.stop()
    return {"what": "K paced clients (one request a second each), the app beside a bare Gradio app; medians over repeats",
            "machine": machine_basics(), "settings": {"seconds": args.seconds, "repeats": args.repeats,
                                                       "clients": args.clients, "modes": args.modes,
                                                       "replicas": args.replicas, "period_s": PERIOD_S,
                                                       "png_side": PNG_SIDE},
            "idle_cpu_share": {name: round(v, 3) for name, v in idle.items()},
            "summary": summarise(blocks, names, args), "blocks": blocks}


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.median(values)), 2) if values else None


def summarise(blocks: list[dict], names: list[str], args) -> dict:
    out: dict = {}
    for mode in args.modes:
        table = {}
        for k in args.clients:
            row = {}
            for name in names:
                mine = [b for b in blocks if b["mode"] == mode and b["clients"] == k and b["server"] == name]
                row[name] = {f: median([b[f] for b in mine]) for f in
                             ("p50_ms", "p95_ms", "p99_ms", "answers_per_s", "server_cpu_ms_per_answer",
                              "server_cpu_ms_per_answer_above_idle")}
                row[name]["errors"] = sum(b["errors"] for b in mine)
            for name in names:
                if name == "bare_gradio":
                    continue
                ratios = []
                for r in range(args.repeats):
                    pick = {b["server"]: b for b in blocks if b["mode"] == mode and b["clients"] == k and b["repeat"] == r}
                    if pick.get(name, {}).get("p95_ms") and pick.get("bare_gradio", {}).get("p95_ms"):
                        ratios.append(pick[name]["p95_ms"] / pick["bare_gradio"]["p95_ms"])
                row[name]["p95_ratio_to_bare_median"] = median(ratios)
                row[name]["p95_ratio_to_bare_range"] = [round(min(ratios), 2), round(max(ratios), 2)] if ratios else None
            table[str(k)] = row
        served = {name: max([k for k in args.clients if (table[str(k)][name]["p95_ms"] or 1e9) <= P95_LIMIT_MS],
                            default=None) for name in names}
        passes = {name: all((table[str(k)][name].get("p95_ratio_to_bare_median") or 99) <= TARGET_RATIO
                            for k in args.clients if k <= 40) and (served[name] or 0) >= (served["bare_gradio"] or 0)
                  for name in names if name != "bare_gradio"}
        out[mode] = {"by_clients": table, "largest_k_p95_within_150ms": served, "meets_issue_24": passes}
    return out


def print_report(result: dict) -> None:
    for mode, s in result["summary"].items():
        print(f"\n{mode}: medians over {result['settings']['repeats']} repeats")
        names = list(next(iter(s["by_clients"].values())))
        print(f"{'K':>4}  " + "  ".join(f"{n + ' p50/p95/p99':>30}{'/s':>6}{'cpu ms*':>8}" for n in names) + "   p95 ratio")
        for k, row in s["by_clients"].items():
            cells = "  ".join(f"{str(row[n]['p50_ms']) + ' / ' + str(row[n]['p95_ms']) + ' / ' + str(row[n]['p99_ms']):>30}"
                              f"{row[n]['answers_per_s']:>6}{row[n]['server_cpu_ms_per_answer_above_idle'] or 0:>8}" for n in names)
            ratios = " ".join(f"{n}:{row[n].get('p95_ratio_to_bare_median')}" for n in names if n != "bare_gradio")
            print(f"{k:>4}  {cells}   {ratios}")
        print(f"largest K at p95 <= {P95_LIMIT_MS:.0f} ms: {s['largest_k_p95_within_150ms']}; meets issue 24: {s['meets_issue_24']}")
    print("cpu ms*: the server's CPU per answer above what it uses idle (all its processes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", default=["predict", "live"], choices=list(ASK))
    parser.add_argument("--clients", nargs="+", type=int, default=[10, 20, 40, 80])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per block")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1, help="also the app as this many processes behind nginx")
    parser.add_argument("--before", type=Path, help="another checkout whose app.py is measured beside this one")
    parser.add_argument("--profile", type=int, help="py-spy record on the app at this K (first repeat)")
    parser.add_argument("--profile-modes", nargs="+", default=["predict"], choices=list(ASK))
    parser.add_argument("--gil", action="store_true", help="profile only the thread holding the GIL")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run(args)
    save_result(result, args.out)
    print_report(result)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
