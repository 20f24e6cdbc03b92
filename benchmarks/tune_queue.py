"""Which Gradio queue settings serve best: concurrency limits, max_threads, Gradio's batch=True vs our micro-batcher.

    python -m benchmarks.tune_queue [--quick] [--only NAME ...] [--out benchmarks/results/tuning.json]

Each variant is app.py launched by benchmarks/app_variant.py with other settings (app.py itself is not
changed); one more server is the do-nothing app (benchmarks/null_app.py, app.py's settings). All are
started first, then measured one at a time in rotating rounds (the order reversed every other round),
the others frozen with SIGSTOP meanwhile (an idle Gradio queue polls every millisecond), so the
machine's other work falls on every variant alike. Per round and server:

- sequential raw-HTTP latency: /predict_sketch and /predict (PNG), one client;
- a window of 32 concurrent clients on /predict_sketch: requests/s, latency, errors and the server's CPU
  time per request (from /proc: steadier than wall time on a busy machine).

The table gives each variant's throughput against app.py as it is (measured in the same rounds) and
against the do-nothing app (the target: >= 0.8), and its sequential p50 against the do-nothing app's
(the target: within 5 ms). Loopback only; every loop is bounded by a count or a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_serving import NULL_LABEL, Server, checked, concurrency_window  # noqa: E402
from benchmarks.http_api import new_client, predict_label  # noqa: E402
from benchmarks.inputs import make_samples  # noqa: E402
from benchmarks.measure import machine_basics, machine_load, save_result, stats  # noqa: E402
from benchmarks.server import NULL_APP, AppProcess, variant  # noqa: E402

VARIANTS: dict[str, list[str]] = {  # name -> benchmarks/app_variant.py flags
    "as is: limit 16 shared": [],
    "limit 1": ["--predict-concurrency", "1"],
    "limit 2": ["--predict-concurrency", "2"],
    "limit 4": ["--predict-concurrency", "4"],
    "unlimited": ["--predict-concurrency", "none"],
    "limit 16, max_threads 8": ["--max-threads", "8"],
    "limit 16, 500 sessions kept": ["--state-session-capacity", "500"],
    "limit 4, 500 sessions kept": ["--predict-concurrency", "4", "--state-session-capacity", "500"],
    # Gradio's batching: one bad input fails its whole batch (see the README / load_test --variant)
    "Gradio batch 16, limit 1": ["--gradio-batch", "16", "--predict-concurrency", "1"],
}
REFERENCE = "as is: limit 16 shared"
NULL = "do-nothing app (as is)"
CASES = {"/predict_sketch": ("predict_sketch", "sketch_png"), "/predict PNG": ("predict", "png")}


@dataclass(frozen=True)
class Budget:
    rounds: int
    sequential: int  # calls per server, endpoint and round
    window_s: float  # one 32-client window per server and round
    window_requests: int


FULL = Budget(rounds=4, sequential=10, window_s=5.0, window_requests=500)
QUICK = Budget(rounds=1, sequential=5, window_s=3.0, window_requests=200)


def sequential_calls(server: Server, sample, n: int) -> dict[str, list[float]]:
    out = {case: [] for case in CASES}
    with new_client() as client:
        for i in range(n + 1):  # the first call of each endpoint warms up
            for case, (api, form) in CASES.items():
                start = time.perf_counter()
                checked(predict_label(client, server.url, api, getattr(sample, form)), server.expect(sample))
                if i:
                    out[case].append((time.perf_counter() - start) * 1000)
    return out


def summarise(latencies: dict[str, list[float]], windows: list[dict]) -> dict:
    ok = sum(len(w["latencies"]) for w in windows)
    errors = [e for w in windows for e in w["errors"]]
    seconds = sum(w["seconds"] for w in windows)
    return {
        "requests_per_s": round(ok / seconds, 2),
        "requests_per_s_per_round": [round(len(w["latencies"]) / w["seconds"], 1) for w in windows],
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "latency_32_clients": stats([x for w in windows for x in w["latencies"]]),
        "server_cpu_ms_per_request": round(1000 * sum(w["server_cpu_s"] for w in windows) / max(1, ok + len(errors)), 2),
        "sequential_p50_ms": {case: stats(s)["p50_ms"] for case, s in latencies.items()},
    }


def run(args: argparse.Namespace) -> dict:
    budget = QUICK if args.quick else FULL
    chosen = {k: v for k, v in VARIANTS.items() if k == REFERENCE or not args.only or k in args.only}
    result: dict = {"timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    "quick": args.quick, "budget": budget.__dict__, "machine": machine_basics(),
                    "flags": {**chosen, NULL: ["(benchmarks/null_app.py)"]}}
    with tempfile.TemporaryDirectory(prefix="tune_queue_") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        samples, _ = make_samples(workdir)
        sample = samples[0]

        def probe(expected: str):
            return lambda client, url: checked(predict_label(client, url, "predict", sample.png), expected)

        procs: dict[str, AppProcess] = {}
        servers: dict[str, Server] = {}
        for i, (name, flags) in enumerate([*chosen.items(), (NULL, None)]):
            print(f"starting {name}: {' '.join(flags or []) or '(app.py settings)'} ...", flush=True)
            command, expected = (variant(*flags), sample.label) if flags is not None else (NULL_APP, NULL_LABEL)
            try:
                procs[name] = stack.enter_context(AppProcess(command, workdir, f"s{i}", probe(expected)))
            except Exception as exc:  # recorded; the other variants are still measured
                result.setdefault("failed_to_start", {})[name] = str(exc)[-500:]
                continue
            procs[name].pause()
            servers[name] = Server(procs[name].url, procs[name].pid, (lambda s: s.label) if flags is not None else (lambda s: NULL_LABEL))

        latencies = {name: {case: [] for case in CASES} for name in servers}
        windows: dict[str, list[dict]] = {name: [] for name in servers}
        names = list(servers)
        for r in range(budget.rounds):
            load = machine_load()
            print(f"round {r + 1}/{budget.rounds}, load {load['load_average']} ...", flush=True)
            for name in (names if r % 2 == 0 else names[::-1]):
                procs[name].resume()
                try:
                    for case, values in sequential_calls(servers[name], sample, budget.sequential).items():
                        latencies[name][case] += values
                    windows[name].append(concurrency_window(servers[name], samples, budget.window_s, budget.window_requests))
                finally:
                    procs[name].pause()

    rows = {name: summarise(latencies[name], windows[name]) for name in servers}
    ref, null = rows.get(REFERENCE), rows.get(NULL)
    for name, row in rows.items():
        row["vs_as_is"] = round(row["requests_per_s"] / ref["requests_per_s"], 3) if ref else None
        row["vs_null"] = round(row["requests_per_s"] / null["requests_per_s"], 3) if null else None
        row["sequential_p50_minus_null_ms"] = (
            {case: round(row["sequential_p50_ms"][case] - null["sequential_p50_ms"][case], 2) for case in CASES} if null else None
        )
    result["variants"] = rows
    result["load_at_end"] = machine_load()
    return result


def print_report(r: dict) -> None:
    print(f"\nQueue settings {r['timestamp']}{'  (quick)' if r['quick'] else ''}: {r['budget']['rounds']} rounds; load "
          f"{r['machine']['load_average_at_start']} at start, {r['load_at_end']['load_average']} at end")
    print(f"  {'':28} {'req/s':>7} {'vs as is':>8} {'vs null':>8} {'32c p50':>8} {'32c p99':>8} {'CPU/req':>8} "
          f"{'seq p50':>8} {'-null':>6} {'errors':>6}")
    for name, v in r["variants"].items():
        lat, seq = v["latency_32_clients"], v["sequential_p50_ms"]["/predict_sketch"]
        minus = v["sequential_p50_minus_null_ms"]["/predict_sketch"] if v["sequential_p50_minus_null_ms"] else float("nan")
        print(f"  {name:28} {v['requests_per_s']:7.1f} {v['vs_as_is'] or float('nan'):8.2f} {v['vs_null'] or float('nan'):8.2f} "
              f"{lat['p50_ms'] or float('nan'):8.0f} {lat['p99_ms'] or float('nan'):8.0f} {v['server_cpu_ms_per_request']:8.1f} "
              f"{seq:8.1f} {minus:6.1f} {v['errors']:6d}")
        for e in v["error_examples"]:
            print(f"      {e}")
    for name, error in r.get("failed_to_start", {}).items():
        print(f"  {name}: did not start: {error[-200:]}")
    print("  (req/s, 32c p50/p99: 32 clients on /predict_sketch; CPU/req: server CPU ms per request under that load;"
          " seq p50: one client, /predict_sketch; -null: its excess over the do-nothing app)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", choices=list(VARIANTS), help="run only these variants (and app.py as is)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "tuning.json")
    args = parser.parse_args(argv)
    result = run(args)
    print_report(result)
    save_result(result, args.out)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
