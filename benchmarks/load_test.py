"""Load and fault test: thousands of mixed requests, good and bad, against `python app.py` over raw HTTP.

    python -m benchmarks.load_test                 # 10,000 requests from 32 clients (several minutes here)
    python -m benchmarks.load_test --quick         # about a minute: 1,000 requests
    python -m benchmarks.load_test --requests N --clients N --seconds N [--seed N] [--out PATH]
    python -m benchmarks.load_test --quick --variant="--state-session-capacity 500"   # app.py with other settings

The app (`python app.py`; with `--variant FLAGS`, benchmarks/app_variant.py: app.py with other Gradio
settings) runs in a subprocess on 127.0.0.1 (a free port) with its feedback store and Gradio's upload
cache in a temporary folder. Client threads (one httpx client each) take requests from one shuffled,
seeded schedule until it is done or `--seconds` have passed, whichever comes first:

- good: drawings (/predict_sketch, the canvas PNG as composite), uploads (/predict, a PNG scan or a
  1000x800 JPEG photo), and feedback (/feedback: image, task, predicted, correct; confirmations and
  corrections) when the app has that endpoint (looked up in /gradio_api/info);
- bad: a text file renamed .png (to both endpoints), a truncated PNG, an empty canvas, a 1x1 image, a
  PNG whose header claims 100,000 x 100,000 pixels, an upload over the app's size limit
  (HANDWRITING_MAX_UPLOAD, Gradio's max_file_size), feedback with a label outside the task, feedback on
  a non-image.

Checks (the exit status is 1 when one fails):
1. every request of the schedule was made within the time limit;
2. zero server errors for good input (HTTP errors, `event: error`, broken streams) and every answer right
   (the model reads each sample's true label in this process; the server runs the same code);
3. every bad input answered with a clear error: an SSE `event: error` whose message says what is wrong
   (for the oversized upload: HTTP 413 saying the limit), never a success, a bare "Error" or a 5xx;
4. memory flat after warm-up: the server's RSS, sampled from /proc, grows by at most 10 % from the end
   of warm-up (the first 20 % of requests, or until Gradio's session cache is full: every raw API call
   is a new session, kept up to HANDWRITING_MAX_SESSIONS; --quick runs the app with 100) to the end;
5. every feedback record id the app returned is stored exactly once in its SQLite store, with the labels
   sent, its original upload on disk, and nothing else stored (bad feedback stores nothing);
6. the app still answers correctly afterwards.

Throughput and latency per kind of request, the RSS curve, threads and open files are in the JSON
(benchmarks/results/load_test.json; load_test_quick.json for --quick). Loopback only; every loop is
bounded by a count and a deadline.
"""

from __future__ import annotations

import os

from handwriting.config import quiet_third_parties  # noqa: E402

quiet_third_parties()  # before gradio is imported
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import inputs  # noqa: E402
from benchmarks.http_api import ApiError, call, new_client, predict_label, sketch_value, upload  # noqa: E402
from benchmarks.measure import machine_basics, machine_load, open_files_of, proc_status, save_result, stats  # noqa: E402
from benchmarks.server import APP, AppProcess, variant  # noqa: E402
from handwriting.config import settings  # noqa: E402

TASK = "digits"
WARMUP_FRACTION = 0.2  # memory is compared from the end of this share of the requests (at least)
QUICK_MAX_SESSIONS = 100  # --quick: Gradio sessions the app keeps, so its bounded cache fills within warm-up
MAX_RSS_GROWTH = 0.10
RSS_SAMPLE_S = 0.5
RECORD_ID = re.compile(r"\b([0-9a-f]{32})\b")
DB_FILE = "feedback.sqlite3"  # handwriting/feedback/database.py: the store file in HANDWRITING_STORE_DIR


@dataclass(frozen=True)
class Kind:
    """One kind of request: how often, which endpoint, and for bad input what the error must say."""

    weight: float
    api: str
    error: str | None = None  # regex the error message must match; None: a good request
    feedback: bool = False

    @property
    def good(self) -> bool:
        return self.error is None


KINDS: dict[str, Kind] = {
    "draw": Kind(0.40, "predict_sketch"),
    "upload PNG": Kind(0.17, "predict"),
    "upload JPEG photo": Kind(0.08, "predict"),
    "feedback": Kind(0.15, "feedback", feedback=True),
    "bad: text file as .png": Kind(0.03, "predict", r"not an image"),
    "bad: text file as drawing": Kind(0.02, "predict_sketch", r"not an image"),
    "bad: truncated PNG": Kind(0.03, "predict", r"damaged or incomplete"),
    "bad: empty canvas": Kind(0.03, "predict_sketch", r"canvas is empty"),
    "bad: 1x1 image": Kind(0.025, "predict", r"too small"),
    "bad: bomb header 100000x100000": Kind(0.025, "predict", r"too large"),
    "bad: upload over the size limit": Kind(0.005, "upload", r"(?i)maximum allowed size"),
    "bad: feedback label not in task": Kind(0.02, "feedback", r"is not a label", feedback=True),
    "bad: feedback on a text file": Kind(0.015, "feedback", r"not an image", feedback=True),
}


@dataclass(frozen=True)
class Budget:
    requests: int
    clients: int
    seconds: float


FULL = Budget(requests=10_000, clients=32, seconds=1500.0)
QUICK = Budget(requests=1_000, clients=32, seconds=90.0)


# ---------------------------------------------------------------------------------------------------
# The requests


@dataclass
class Outcome:
    kind: str
    ok: bool
    latency_ms: float
    done_at: float  # seconds since the start
    problem: str = ""  # for a failure: what went wrong
    server_error: bool = False  # an HTTP 5xx, a broken stream or connection, or an error event for good input
    record: tuple[str, str, str] | None = None  # feedback stored: (id, predicted, correct)


class Requests:
    """Makes one request of each kind from the prepared inputs; returns what a check needs."""

    def __init__(self, base: str, samples: list[inputs.Sample], limit_bytes: int):
        self.base = base
        self.samples = samples
        sample = samples[0]
        self.bad = {
            "text": inputs.text_as_png(),
            "truncated": inputs.truncated_png(sample),
            "tiny": inputs.tiny_png(),
            "bomb": inputs.bomb_header_png(),
            "oversize": inputs.oversize_file(limit_bytes),
        }

    def run(self, client: httpx.Client, kind: str, ticket: int) -> tuple[str, tuple | None]:
        """Make the request; returns (answer text, stored record or None). Raises what the server said."""
        sample = self.samples[ticket % len(self.samples)]
        b, c = self.base, client
        if kind == "draw":
            return predict_label(c, b, "predict_sketch", sample.sketch_png), None
        if kind == "upload PNG":
            return predict_label(c, b, "predict", sample.png), None
        if kind == "upload JPEG photo":
            return predict_label(c, b, "predict", sample.photo), None
        if kind == "feedback":
            correct = sample.label if ticket % 3 else str((int(sample.label) + 1) % 10)  # a third are corrections
            text = call(c, b, "feedback", [upload(c, b, sample.png), TASK, sample.label, correct])[0]
            found = RECORD_ID.search(str(text))
            return str(text), (found.group(1), sample.label, correct) if found else None
        if kind == "bad: text file as .png":
            return self._predict_bytes(c, "predict", self.bad["text"], "notes.png")
        if kind == "bad: text file as drawing":
            return self._predict_bytes(c, "predict_sketch", self.bad["text"], "notes.png")
        if kind == "bad: truncated PNG":
            return self._predict_bytes(c, "predict", self.bad["truncated"], "cut.png")
        if kind == "bad: empty canvas":
            return str(call(c, b, "predict_sketch", [sketch_value(None), TASK])), None
        if kind == "bad: 1x1 image":
            return self._predict_bytes(c, "predict", self.bad["tiny"], "dot.png")
        if kind == "bad: bomb header 100000x100000":
            return self._predict_bytes(c, "predict", self.bad["bomb"], "bomb.png")
        if kind == "bad: upload over the size limit":
            return self._predict_bytes(c, "predict", self.bad["oversize"], "huge.png")
        if kind == "bad: feedback label not in task":
            return str(call(c, b, "feedback", [upload(c, b, sample.png), TASK, sample.label, "x"])), None
        if kind == "bad: feedback on a text file":
            return str(call(c, b, "feedback", [upload(c, b, self.bad["text"], "notes.png"), TASK, "3", "3"])), None
        raise ValueError(kind)

    def _predict_bytes(self, client: httpx.Client, api: str, data: bytes, name: str) -> tuple[str, None]:
        remote = upload(client, self.base, data, name)
        value = sketch_value(remote) if api == "predict_sketch" else remote
        return str(call(client, self.base, api, [value, TASK])), None

    def expected_answer(self, kind: str, ticket: int) -> str | None:
        """The label a good prediction must have (None: feedback, checked by its record id)."""
        return None if KINDS[kind].feedback else self.samples[ticket % len(self.samples)].label


def judge(requests: Requests, kind: str, ticket: int, client: httpx.Client, started: float) -> Outcome:
    """Make one request and decide whether the app answered it as it must."""
    spec = KINDS[kind]
    t0 = time.perf_counter()
    answer, record, problem, server_error, message = None, None, "", False, None
    try:
        answer, record = requests.run(client, kind, ticket)
    except ApiError as exc:
        message = exc.message
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        server_error = status >= 500
        if status == 413:  # the upload limit: the refusal is the answer, its text the message
            message = f"HTTP 413: {exc.response.text[:200]}"
        else:
            problem = f"HTTP {status}: {exc.response.text[:160]}"
    except Exception as exc:  # a broken connection or stream: the server failed this request
        server_error, problem = True, f"{type(exc).__name__}: {exc}"[:200]
    latency = (time.perf_counter() - t0) * 1000
    done = time.perf_counter() - started
    if spec.good:
        if answer is None:
            server_error = True
            problem = problem or f"error event for good input: {message!r}"
        elif spec.feedback and record is None:
            problem = f"no record id in the confirmation: {answer[:160]!r}"
        elif not spec.feedback and answer != requests.expected_answer(kind, ticket):
            problem = f"answered {answer!r}, expected {requests.expected_answer(kind, ticket)!r}"
        return Outcome(kind, not problem, latency, done, problem, server_error, record)
    if answer is not None:
        problem = f"bad input accepted: {answer[:160]!r}"
    elif message is None or message.strip() in ("", "Error", "None"):
        problem = problem or f"error without a message ({message!r})"
    elif not re.search(spec.error, message):
        problem = f"unclear error: {message[:160]!r} does not say /{spec.error}/"
    return Outcome(kind, not problem, latency, done, problem, server_error)


# ---------------------------------------------------------------------------------------------------
# The run


class MemorySampler(threading.Thread):
    """Samples the server's RSS, threads and open files every RSS_SAMPLE_S until stopped."""

    def __init__(self, pid: int, progress: Callable[[], int], started: float):
        super().__init__(name="rss-sampler", daemon=True)
        self.pid, self.progress, self.started = pid, progress, started
        self.samples: list[dict] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            status = proc_status(self.pid, "VmRSS", "VmHWM", "Threads")
            if status["VmRSS"] is not None:
                self.samples.append({"t_s": round(time.perf_counter() - self.started, 2), "done": self.progress(),
                                     "rss_mb": status["VmRSS"], "threads": status["Threads"],
                                     "open_files": open_files_of(self.pid)})
            self._halt.wait(RSS_SAMPLE_S)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def schedule(kinds: dict[str, Kind], n: int, seed: int) -> list[str]:
    names = list(kinds)
    weights = np.array([kinds[k].weight for k in names])
    rng = np.random.default_rng(seed)
    return [names[i] for i in rng.choice(len(names), size=n, p=weights / weights.sum())]


def hammer(requests: Requests, plan: list[str], clients: int, seconds: float, pid: int) -> tuple[list[Outcome], dict, float]:
    """Run the plan from `clients` threads until done or the deadline; outcomes, memory samples, elapsed s."""
    lock = threading.Lock()
    next_ticket = [0]
    outcomes: list[Outcome] = []
    clock: dict[str, float] = {}
    samplers: list[MemorySampler] = []

    def start_clock() -> None:  # once every client is made (making 32 takes a while under load)
        clock["start"] = time.perf_counter()
        clock["deadline"] = clock["start"] + seconds
        samplers.append(MemorySampler(pid, lambda: len(outcomes), clock["start"]))
        samplers[0].start()

    ready = threading.Barrier(clients, action=start_clock)

    def take() -> int | None:
        with lock:
            if next_ticket[0] >= len(plan) or time.perf_counter() >= clock["deadline"]:
                return None
            next_ticket[0] += 1
            return next_ticket[0] - 1

    def worker() -> None:
        with new_client() as client:
            ready.wait(timeout=120)
            while (ticket := take()) is not None:
                outcome = judge(requests, plan[ticket], ticket, client, clock["start"])
                with lock:
                    outcomes.append(outcome)

    threads = [threading.Thread(target=worker, name=f"client-{i}", daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    give_up = time.perf_counter() + 120 + seconds + 90
    for t in threads:
        t.join(timeout=max(1.0, give_up - time.perf_counter()))
    elapsed = time.perf_counter() - clock["start"]
    sampler = samplers[0]
    time.sleep(RSS_SAMPLE_S * 2)  # a last sample or two at rest
    sampler.stop()
    return list(outcomes), sampler.samples, elapsed


def memory_check(samples: list[dict], total: int, max_sessions: int) -> dict:
    """RSS at the end of warm-up (median over the next 10 % of requests) against the last 10 %.

    Warm-up is the first 20 % of the requests, or longer: until Gradio's session cache is full (every
    raw API call is a new session, kept up to `max_sessions`), plus 10 % of the run."""
    warm_end = max(WARMUP_FRACTION * total, max_sessions + 0.1 * total)
    after_warmup = [s for s in samples if warm_end <= s["done"] <= warm_end + 0.1 * total]
    at_end = [s for s in samples if s["done"] >= 0.9 * total]
    if warm_end >= 0.9 * total or not after_warmup or not at_end:
        return {"ok": False, "warmup_requests": int(warm_end),
                "problem": f"the run is too short to see memory after warm-up ({int(warm_end)} requests)"}
    warm = float(np.median([s["rss_mb"] for s in after_warmup]))
    end = float(np.median([s["rss_mb"] for s in at_end]))
    growth = end / warm - 1
    later = [s for s in samples if s["done"] >= warm_end]
    slope = None
    if len(later) >= 3 and later[-1]["done"] > later[0]["done"]:
        slope = float(np.polyfit([s["done"] for s in later], [s["rss_mb"] for s in later], 1)[0]) * 1000
    return {
        "ok": growth <= MAX_RSS_GROWTH,
        "rss_mb_first_sample": samples[0]["rss_mb"],
        "rss_mb_after_warmup": round(warm, 1),
        "rss_mb_at_end": round(end, 1),
        "rss_mb_max": max(s["rss_mb"] for s in samples),
        "growth_after_warmup_pct": round(100 * growth, 2),
        "slope_mb_per_1000_requests_after_warmup": None if slope is None else round(slope, 2),
        "threads_after_warmup_to_end": [after_warmup[0]["threads"], at_end[-1]["threads"]],
        "open_files_after_warmup_to_end": [after_warmup[0]["open_files"], at_end[-1]["open_files"]],
        "warmup_requests": int(warm_end),
        "limit_pct": 100 * MAX_RSS_GROWTH,
    }


def store_check(store_dir: Path, records: list[tuple[str, str, str]]) -> dict:
    """Every returned record id stored exactly once with the labels sent; nothing else stored."""
    db = store_dir / DB_FILE
    if not db.is_file():
        return {"ok": not records, "problem": f"{db} does not exist", "returned_ids": len(records)}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute("SELECT id, predicted, correct, original_file FROM feedback").fetchall()
    stored = Counter(r[0] for r in rows)
    by_id = {r[0]: r for r in rows}
    returned = Counter(r[0] for r in records)
    problems = []
    duplicates_returned = [i for i, n in returned.items() if n > 1]
    missing = [i for i in returned if stored[i] == 0]
    stored_twice = [i for i, n in stored.items() if n > 1]
    unexpected = [i for i in stored if i not in returned]
    mismatched = [i for i, predicted, correct in records if i in by_id and by_id[i][1:3] != (predicted, correct)]
    no_original = [i for i in returned if i in by_id and not (by_id[i][3] and (store_dir / by_id[i][3]).is_file())]
    for name, ids in (("ids returned twice", duplicates_returned), ("returned but not stored", missing),
                      ("stored more than once", stored_twice), ("stored but never confirmed", unexpected),
                      ("stored with other labels", mismatched), ("original upload missing", no_original)):
        if ids:
            problems.append(f"{len(ids)} {name}, e.g. {ids[:3]}")
    return {"ok": not problems, "problems": problems, "returned_ids": len(returned), "stored_rows": len(rows),
            "corrections": sum(1 for _, p, c in records if p != c)}


def summarise(outcomes: list[Outcome], elapsed: float) -> dict:
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.kind].append(o)
    kinds = {}
    for kind in KINDS:
        items = by_kind.get(kind, [])
        if not items:
            continue
        failures = [o for o in items if not o.ok]
        kinds[kind] = {
            "good_input": KINDS[kind].good,
            "requests": len(items),
            "ok": len(items) - len(failures),
            "failed": len(failures),
            "server_errors": sum(o.server_error for o in items),
            "failure_examples": sorted(Counter(o.problem for o in failures).items(), key=lambda kv: -kv[1])[:3],
            "latency": stats([o.latency_ms for o in items]),
        }
    good = [o for o in outcomes if KINDS[o.kind].good]
    return {
        "requests_done": len(outcomes),
        "seconds": round(elapsed, 1),
        "requests_per_s": round(len(outcomes) / elapsed, 1) if elapsed else None,
        "good_requests": len(good),
        "good_failed": sum(not o.ok for o in good),
        "server_errors": sum(o.server_error for o in outcomes),
        "bad_requests": len(outcomes) - len(good),
        "bad_failed": sum(not o.ok for o in outcomes if not KINDS[o.kind].good),
        "latency_all": stats([o.latency_ms for o in outcomes]),
        "latency_good": stats([o.latency_ms for o in good]),
        "kinds": kinds,
    }


def sessions_kept(variant_flags: str, server_env: dict[str, str]) -> int:
    """How many Gradio sessions the server keeps (app.py reads HANDWRITING_MAX_SESSIONS; a variant may override)."""
    flags = variant_flags.split()
    if "--state-session-capacity" in flags:
        return int(flags[flags.index("--state-session-capacity") + 1])
    with_env = dict(os.environ, **server_env)
    return int(with_env.get("HANDWRITING_MAX_SESSIONS") or getattr(settings(), "max_sessions", 10_000))


def run(args: argparse.Namespace) -> dict:
    budget = Budget(args.requests, args.clients, args.seconds)
    limit_bytes = settings().max_file_bytes
    result: dict = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "budget": budget.__dict__,
        "seed": args.seed,
        "machine": machine_basics(),
        "upload_limit_bytes": limit_bytes,
        "server": "python app.py" if not args.variant else f"python -m benchmarks.app_variant {args.variant}",
    }
    with tempfile.TemporaryDirectory(prefix="load_test_") as tmp:
        workdir = Path(tmp)
        samples, _ = inputs.make_samples(workdir, TASK, per_class=3)
        probe_sample = samples[0]
        print(f"{len(samples)} digit samples; starting python app.py ...", flush=True)

        def probe(client: httpx.Client, url: str) -> None:
            if predict_label(client, url, "predict", probe_sample.png) != probe_sample.label:
                raise RuntimeError("the app answered the probe wrongly")

        command = variant(*args.variant.split()) if args.variant else APP
        server_env = {"HANDWRITING_MAX_SESSIONS": str(QUICK_MAX_SESSIONS)} if args.quick and "HANDWRITING_MAX_SESSIONS" not in os.environ else {}
        result["server_env"] = server_env
        max_sessions = sessions_kept(args.variant, server_env)
        result["gradio_sessions_kept"] = max_sessions
        with AppProcess(command, workdir, "app", probe, extra_env=server_env) as app:
            result["startup"] = app.startup
            endpoints = set(httpx.get(f"{app.url}/gradio_api/info", timeout=30).json()["named_endpoints"])
            kinds = {k: v for k, v in KINDS.items() if not v.feedback or "/feedback" in endpoints}
            result["endpoints"] = sorted(endpoints)
            result["feedback_endpoint"] = "/feedback" in endpoints
            plan = schedule(kinds, budget.requests, args.seed)
            result["plan"] = dict(Counter(plan))
            print(f"endpoints {sorted(endpoints)}; {budget.requests} requests from {budget.clients} clients, "
                  f"at most {budget.seconds:.0f} s ...", flush=True)
            requests = Requests(app.url, samples, limit_bytes)
            outcomes, memory, elapsed = hammer(requests, plan, budget.clients, budget.seconds, app.pid)
            result["load_at_end"] = machine_load()
            result["summary"] = summarise(outcomes, elapsed)
            result["memory"] = memory_check(memory, len(outcomes), max_sessions) if outcomes else {"ok": False}
            result["memory_samples"] = memory

            with new_client() as client:
                try:
                    after = predict_label(client, app.url, "predict_sketch", probe_sample.sketch_png) == probe_sample.label
                except Exception as exc:  # reported as the failed check
                    after = f"{type(exc).__name__}: {exc}"
            records = [o.record for o in outcomes if o.record is not None]
            if result["feedback_endpoint"]:
                result["feedback_store"] = store_check(app.store_dir, records)
            log = app.log_path.read_text(errors="replace")
            result["server_log"] = {"lines": log.count("\n"), "tracebacks": log.count("Traceback (most recent call last)")}
            result["alive_at_end"] = app.alive()
            cache = [p for p in (app.workdir / "gradio-uploads").rglob("*") if p.is_file()]
            result["upload_cache_at_end"] = {"files": len(cache), "mb": round(sum(p.stat().st_size for p in cache) / 2**20, 1)}

    s = result["summary"]
    checks = {
        "all requests made within the time limit": s["requests_done"] == budget.requests,
        "zero server errors, right answers for good input": s["good_failed"] == 0 and s["server_errors"] == 0,
        "every bad input answered with a clear error": s["bad_failed"] == 0,
        f"server RSS growth after warm-up <= {100 * MAX_RSS_GROWTH:.0f} %": result["memory"].get("ok", False),
        "still serving correctly afterwards": after is True and result["alive_at_end"],
    }
    if result["feedback_endpoint"]:
        checks["every feedback record stored exactly once"] = result["feedback_store"]["ok"]
    result["checks"] = {name: "PASS" if ok else "FAIL" for name, ok in checks.items()}
    result["passed"] = all(checks.values())
    return result


def print_report(r: dict) -> None:
    s, m = r["summary"], r["machine"]
    print(f"\nLoad test {r['timestamp']}{'  (quick)' if r['quick'] else ''}: {s['requests_done']} of "
          f"{r['budget']['requests']} requests from {r['budget']['clients']} clients in {s['seconds']} s "
          f"= {s['requests_per_s']} req/s")
    print(f"{m['cpus_usable']} CPUs, load {m['load_average_at_start']} at start, {r['load_at_end']['load_average']} at end; "
          f"app started in {r['startup']['first_answer_s']} s; endpoints {', '.join(r['endpoints'])}")
    print(f"\n  {'kind':34} {'n':>6} {'ok':>6} {'failed':>6} {'5xx/broken':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, k in s["kinds"].items():
        print(f"  {kind:34} {k['requests']:6d} {k['ok']:6d} {k['failed']:6d} {k['server_errors']:10d} "
              f"{k['latency']['p50_ms']:8.1f} {k['latency']['p99_ms']:8.1f}")
        for problem, count in k["failure_examples"]:
            print(f"      {count} x {problem}")
    mem = r["memory"]
    if "problem" in mem:
        print(f"\n  server RSS: {mem['problem']}")
    if "rss_mb_after_warmup" in mem:
        print(f"\n  server RSS: {mem['rss_mb_first_sample']} MiB at the start, {mem['rss_mb_after_warmup']} after warm-up "
              f"({mem['warmup_requests']} requests), {mem['rss_mb_at_end']} at the end ({mem['growth_after_warmup_pct']:+.1f} %, "
              f"{mem['slope_mb_per_1000_requests_after_warmup']} MiB per 1000 requests), max {mem['rss_mb_max']}; "
              f"threads {mem['threads_after_warmup_to_end']}, open files {mem['open_files_after_warmup_to_end']}")
    if "feedback_store" in r:
        f = r["feedback_store"]
        print(f"  feedback store: {f['returned_ids']} record ids returned, {f.get('stored_rows')} rows stored "
              f"({f.get('corrections')} corrections); {'; '.join(f.get('problems', [])) or 'each stored exactly once'}")
    print(f"  server log: {r['server_log']['lines']} lines, {r['server_log']['tracebacks']} tracebacks; "
          f"Gradio upload cache: {r['upload_cache_at_end']['files']} files, {r['upload_cache_at_end']['mb']} MiB")
    print("\nChecks")
    for name, verdict in r["checks"].items():
        print(f"  {verdict}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.requests} requests, at most {QUICK.seconds:.0f} s")
    parser.add_argument("--requests", type=int, help=f"requests in all (default {FULL.requests})")
    parser.add_argument("--clients", type=int, help=f"concurrent clients (default {FULL.clients})")
    parser.add_argument("--seconds", type=float, help=f"wall-time limit of the request phase (default {FULL.seconds:.0f})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--variant", default="", metavar="FLAGS", help="run benchmarks/app_variant.py with these flags")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    args.requests = min(args.requests or base.requests, 100_000)
    args.clients = min(args.clients or base.clients, 256)
    args.seconds = min(args.seconds or base.seconds, 3 * 3600)
    out = args.out or ROOT / "benchmarks" / "results" / ("load_test_quick.json" if args.quick else "load_test.json")

    result = run(args)
    print_report(result)
    save_result(result, out, indent=1)
    print(f"\nwritten to {out}; {'all checks passed' if result['passed'] else 'SOME CHECKS FAILED'}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
