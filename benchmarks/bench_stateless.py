"""What a stateless `/predict` costs above a bare Gradio app, side by side in one run.

    python -m benchmarks.bench_stateless [--calls 300] [--before DIR]

Servers, each in its own process on this host: `benchmarks/bare_app.py` (one Image input, one Label, a
constant answer: Gradio's own floor), `python app.py` (the real page and model), and with `--before DIR`
the app of another checkout (e.g. a `git worktree` of the commit before a change), run with this venv.
Calls go over raw HTTP without a session hash, as curl users and most scripts call it: each is a new
Gradio session. They alternate between the servers in blocks (the others frozen with SIGSTOP, since an
idle Gradio queue polls every millisecond), so a host that slows down mid-run slows every server alike.
`gradio_client` callers keep one session per Client: their p50 is measured too (the same Client for
every call), and must not get slower.

Prints a table and writes benchmarks/results/stateless.json. Target (issue 12): app p50 - bare p50 <= 5 ms.
"""

from __future__ import annotations

from handwriting.config import quiet_third_parties

quiet_third_parties()  # before gradio_client is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks.http_api import call, new_client, upload  # noqa: E402
from benchmarks.inputs import FIXTURES, render_png  # noqa: E402
from benchmarks.measure import machine_basics, save_result, stats  # noqa: E402
from benchmarks.server import APP, ROOT, AppProcess  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "stateless.json"
BARE_APP = [sys.executable, "-m", "benchmarks.bare_app"]
TARGET_OVER_BARE_MS = 5.0
BLOCK = 20  # calls to one server before switching to the next


def seven_png() -> Path:
    """A committed MNIST test digit as a 200x200 scan-like PNG."""
    import numpy as np

    with np.load(FIXTURES) as data:
        x, y = data["x"], data["y"]
    path = Path(tempfile.mkdtemp(prefix="bench-stateless-png-")) / "seven.png"
    return render_png(x[list(y).index(7)], path)


def probe(client, url) -> None:
    call(client, url, "predict", [upload(client, url, seven_png()), "digits"])


def raw_http(servers: dict[str, AppProcess], calls: int) -> dict[str, list[float]]:
    """p50 inputs: `calls` stateless calls per server, alternating in blocks."""
    samples: dict[str, list[float]] = {name: [] for name in servers}
    png = seven_png()
    with new_client() as client:
        files = {name: upload(client, s.url, png) for name, s in servers.items()}
        for s in servers.values():
            s.pause()
        for _ in range(0, calls, BLOCK):
            for name, server in servers.items():
                server.resume()
                for _ in range(3):  # the first calls after a pause wake the server's loop
                    call(client, server.url, "predict", [files[name], "digits"])
                for _ in range(BLOCK):
                    start = time.perf_counter()
                    call(client, server.url, "predict", [files[name], "digits"])
                    samples[name].append((time.perf_counter() - start) * 1000)
                server.pause()
        for s in servers.values():
            s.resume()
    return samples


def with_client(server: AppProcess, calls: int) -> list[float]:
    """`calls` /predict calls through one gradio_client Client (one session), as scripts using it do."""
    from gradio_client import Client, handle_file

    png = seven_png()
    client = Client(server.url, verbose=False)
    for _ in range(5):
        client.predict(handle_file(str(png)), "digits", api_name="/predict")
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        client.predict(handle_file(str(png)), "digits", api_name="/predict")
        samples.append((time.perf_counter() - start) * 1000)
    client.close()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="stateless calls per server")
    parser.add_argument("--client-calls", type=int, default=100, help="gradio_client calls per app")
    parser.add_argument("--before", type=Path, help="another checkout whose app.py is measured beside this one")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    commands = {"bare_gradio": BARE_APP, "app": APP}
    if args.before:
        commands["app_before"] = [sys.executable, str(args.before.resolve() / "app.py")]
    workdir = Path(tempfile.mkdtemp(prefix="bench-stateless-"))
    servers: dict[str, AppProcess] = {}
    try:
        for name, command in commands.items():
            servers[name] = AppProcess(command, workdir, name, probe)
            servers[name].pause()
        for s in servers.values():
            s.resume()
        samples = raw_http(servers, args.calls)
        client = {name: stats(with_client(s, args.client_calls)) for name, s in servers.items() if name != "bare_gradio"}
    finally:
        for s in servers.values():
            s.stop()

    raw = {name: stats(values) for name, values in samples.items()}
    over = {name: round(raw[name]["p50_ms"] - raw["bare_gradio"]["p50_ms"], 2) for name in raw if name != "bare_gradio"}
    result = {
        "what": "stateless /predict over raw HTTP (no session hash), servers side by side; gradio_client p50 per app",
        "machine": machine_basics(),
        "raw_http": raw,
        "p50_over_bare_ms": over,
        "ratio_to_bare": {name: round(raw[name]["p50_ms"] / raw["bare_gradio"]["p50_ms"], 2) for name in over},
        "gradio_client": client,
        "target_over_bare_ms": TARGET_OVER_BARE_MS,
        "passes": over["app"] <= TARGET_OVER_BARE_MS,
    }
    save_result(result, args.out)
    print(f"{'server':<14}{'raw p50 ms':>12}{'p99 ms':>10}{'over bare':>11}{'client p50':>12}")
    for name in raw:
        print(f"{name:<14}{raw[name]['p50_ms']:>12.1f}{raw[name]['p99_ms']:>10.1f}"
              f"{over.get(name, 0.0):>+11.1f}{client.get(name, {}).get('p50_ms') or float('nan'):>12.1f}")
    print(f"target: app p50 within {TARGET_OVER_BARE_MS} ms of the bare app: {'pass' if result['passes'] else 'FAIL'}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
