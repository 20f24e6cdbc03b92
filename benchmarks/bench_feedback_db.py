"""/feedback throughput and p95 latency: SQLite on one replica, PostgreSQL on one and on three replicas,
side by side in one run, as ratios to SQLite.

    python -m benchmarks.bench_feedback_db [--calls 240] [--clients 12] [--database-url postgresql://...]

Each setup is `python app.py` processes on this host (three replicas share one database; their callers
are spread round-robin over them). Without --database-url a throw-away PostgreSQL cluster is started
(Debian's PostgreSQL 15, as the tests do, but with fsync on: SQLite commits with synchronous=FULL) and
removed after. Every call is a real /feedback over HTTP
(upload once, then POST /gradio_api/call/feedback and its events): the model runs on the picture, the
record is stored and, on PostgreSQL, committed over the network socket. While one setup is measured the
others are frozen (SIGSTOP). On one small host three replicas share the same cores: the figure says what
the database costs and whether replicas contend on it, not what three machines would serve.

Prints a table and writes benchmarks/results/feedback_db.json.
"""

from __future__ import annotations

from handwriting.config import quiet_third_parties

quiet_third_parties()  # before gradio_client is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.http_api import call, new_client, upload  # noqa: E402
from benchmarks.inputs import FIXTURES, render_png  # noqa: E402
from benchmarks.measure import machine_basics, save_result  # noqa: E402
from benchmarks.server import APP, ROOT, AppProcess  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "feedback_db.json"
LAUNCH_CHECK_S = 8  # long enough for launch's own check of the page (3 s, slower on a loaded host)


def digit_pngs(folder: Path, n: int = 10) -> list[tuple[Path, str]]:
    """n committed MNIST test digits as scan-like PNGs, with their labels."""
    with np.load(FIXTURES) as data:
        x, y = data["x"], data["y"]
    return [(render_png(x[i], folder / f"digit{i}.png"), str(y[i])) for i in range(n)]


def latency(samples_ms: list[float]) -> dict:
    a = np.asarray(samples_ms, dtype=float)
    p50, p95, p99 = np.quantile(a, [0.5, 0.95, 0.99]) if a.size else (np.nan,) * 3
    return {"n": int(a.size), "p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1)}


def probe(client, url) -> None:
    client.get(f"{url}/gradio_api/info").raise_for_status()


def start_postgres():
    """A throw-away cluster (tests/postgres_server.py, in a temporary folder of its own) and a database."""
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_server import PostgresServer

    server = PostgresServer(durable=True).start()  # fsync on, as SQLite's synchronous=FULL
    return server, server.create_database("bench_feedback")


def measure(apps: list[AppProcess], pictures, calls: int, clients: int) -> dict:
    """`calls` /feedback calls from `clients` threads spread over `apps`; throughput and latency."""
    with new_client() as client:
        files = [[upload(client, app.url, path) for path, _ in pictures] for app in apps]
        for app, uploaded in zip(apps, files):  # warm: the model loaded, the pool connected
            call(client, app.url, "feedback", [uploaded[0], "digits", pictures[0][1], pictures[0][1]])
    latencies: list[float] = []
    errors = []
    lock = threading.Lock()
    http = [new_client() for _ in range(clients)]

    def one(i: int) -> None:
        replica = i % len(apps)
        label = pictures[i % len(pictures)][1]
        start = time.perf_counter()
        try:
            call(http[i % clients], apps[replica].url, "feedback",
                 [files[replica][i % len(pictures)], "digits", label, label])
        except Exception as exc:  # noqa: BLE001 (counted and shown)
            errors.append(repr(exc)[:200])
            return
        with lock:
            latencies.append((time.perf_counter() - start) * 1000)

    wall = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(calls)))
    wall = time.perf_counter() - wall
    for h in http:
        h.close()
    return {"calls": calls, "clients": clients, "errors": len(errors), "first_errors": errors[:3],
            "wall_s": round(wall, 2), "per_s": round(len(latencies) / wall, 1), "latency_ms": latency(latencies)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=240, help="/feedback calls per setup")
    parser.add_argument("--clients", type=int, default=12, help="concurrent callers")
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: a throw-away one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-feedback-db-"))
    server = None
    url = args.database_url
    if not url:
        server, url = start_postgres()
    pictures = digit_pngs(work)
    setups = {"sqlite_1": (1, {}), "postgres_1": (1, {"HANDWRITING_DATABASE_URL": url}),
              "postgres_3": (3, {"HANDWRITING_DATABASE_URL": url})}
    started: dict[str, list[AppProcess]] = {}
    results: dict[str, dict] = {}
    try:
        for name, (n, env) in setups.items():
            started[name] = [AppProcess(APP, work, f"{name}-{i}", probe, extra_env=env) for i in range(n)]
            time.sleep(LAUNCH_CHECK_S)  # Gradio's launch checks its own page after it answers: not frozen
            for app in started[name]:
                if not app.alive():
                    raise RuntimeError(f"{app.name} stopped after starting; log:\n{app.log_tail()}")
                app.pause()
        for name, apps in started.items():
            for app in apps:
                app.resume()
            results[name] = measure(apps, pictures, args.calls, args.clients)
            for app in apps:
                app.pause()
            r = results[name]
            print(f"{name:11s} {r['per_s']:7.1f} calls/s  p50 {r['latency_ms']['p50']:7.1f} ms  "
                  f"p95 {r['latency_ms']['p95']:7.1f} ms  errors {r['errors']}", flush=True)
    finally:
        for apps in started.values():
            for app in apps:
                app.stop()
        if server is not None:
            server.destroy()

    base = results["sqlite_1"]
    ratios = {name: {"throughput_vs_sqlite_1": round(r["per_s"] / base["per_s"], 2),
                     "p95_vs_sqlite_1": round(r["latency_ms"]["p95"] / base["latency_ms"]["p95"], 2)}
              for name, r in results.items()}
    for name, ratio in ratios.items():
        print(f"{name:11s} throughput x{ratio['throughput_vs_sqlite_1']:.2f}  p95 x{ratio['p95_vs_sqlite_1']:.2f} (vs sqlite_1)")
    save_result({"benchmark": "feedback_db", "command": "python -m benchmarks.bench_feedback_db "
                 + " ".join(a for a in (argv or sys.argv[1:]) if "postgresql://" not in a),
                 "machine": machine_basics(), "setups": {k: {"replicas": v[0]} for k, v in setups.items()},
                 "results": results, "ratios": ratios}, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
