"""Serving benchmark: how fast the handwriting app answers, from the library call to the HTTP API.

    python -m benchmarks.bench_serving [--quick] [--in-process] [--out benchmarks/results/serving.json]

What is measured (every latency as p50 / p99 in ms, after warm-up):

1. In this process, per image, for three inputs of the same kind as real traffic:
   a 280x280 RGBA Sketchpad value (a dict whose composite is a numpy array), a ~200x200 PNG file path,
   and a 1000x800 photo-like JPEG (grey paper, uneven lighting, noise). For each: preprocessing alone
   (`to_model_input`) and preprocessing + inference (`handwriting.predict`, through the micro-batcher).
   Inference alone: the compiled runtime called directly, and through the micro-batcher.
2. Batch throughput of the runtime (images/s) for batch sizes 1, 8, 32, 128.
3. End to end over raw HTTP (httpx, one persistent client), the Gradio queue API:
   POST /gradio_api/upload, POST /gradio_api/call/<api>, GET /gradio_api/call/<api>/<event_id> (SSE)
   until `event: complete`; for /predict (PNG and JPEG) and /predict_sketch (composite PNG).
   Every answer's top label is checked.
4. The same through `gradio_client.Client.predict`.
5. Throughput with 32 concurrent clients (threads, one httpx client each) on /predict_sketch,
   bounded by time and request count, cycling through one digit of each class: requests/s and errors
   (a wrong label counts as an error, which also checks the micro-batcher returns the right rows).
6. App start to first answer: `python app.py` in a fresh subprocess on a free port, time until the first
   correct /predict answer, and that process's peak RSS (VmHWM) then and after the load of 3-5.
   By default 3-5 run against this same subprocess, so client threads do not share the server's GIL;
   `--in-process` instead launches `app.demo` in this process, as tests/conftest.py does.
7. Peak RSS of this benchmark process.

A table is printed and everything, with machine info and a timestamp, is written as JSON.
All traffic goes to 127.0.0.1; every loop is bounded by a count or a deadline.
`--quick` cuts iteration counts so the whole run takes about a minute (CI smoke run).
Other processes using the CPU change the numbers: the JSON records the load average.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio (or anything importing it) loads
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import ndimage  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handwriting.preprocessing import to_model_input  # noqa: E402
from handwriting.recognizer import get_recognizer, predict  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "mnist_test_200.npz"
HOST = "127.0.0.1"
TASK = "digits"
BATCH_SIZES = (1, 8, 32, 128)
CONCURRENT_CLIENTS = 32
HTTP_TIMEOUT = httpx.Timeout(60.0)  # the first call may load the model on a busy machine


@dataclass(frozen=True)
class Budget:
    """Iteration counts and time limits; `--quick` uses the small one."""

    warmup: int
    per_image: int
    batch_seconds: float
    http: int
    client: int
    load_seconds: float
    load_requests: int


FULL = Budget(warmup=20, per_image=400, batch_seconds=2.0, http=300, client=100, load_seconds=20.0, load_requests=2000)
QUICK = Budget(warmup=3, per_image=25, batch_seconds=0.3, http=20, client=10, load_seconds=3.0, load_requests=200)


# ---------------------------------------------------------------------------------------------------
# Timing helpers


def stats(samples_ms: list[float]) -> dict:
    a = np.asarray(samples_ms, dtype=float)
    return {
        "n": int(a.size),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
    }


def time_calls(fn: Callable[[], object], iterations: int, warmup: int) -> dict:
    """Call `fn` warmup + iterations times; stats of the timed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return stats(samples)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mb_of(pid: int, field: str = "VmHWM") -> float | None:
    """A memory figure (VmHWM = peak RSS, VmRSS = current) of a live process, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------------
# Inputs: MNIST test digits rendered the ways users send them


def render_sketch(digit: np.ndarray) -> np.ndarray:
    """28x28 white-on-black digit -> 280x280 RGBA canvas composite: opaque white, black 0/255 strokes."""
    big = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BILINEAR))
    canvas = np.full((280, 280, 4), 255, np.uint8)
    canvas[big > 127, :3] = 0
    return canvas


def render_png(digit: np.ndarray, path: Path) -> Path:
    """A 200x200 RGB scan-like PNG: dark anti-aliased digit on white."""
    big = Image.fromarray(255 - digit).resize((200, 200), Image.Resampling.BILINEAR)
    big.convert("RGB").save(path)
    return path


def render_photo(digit: np.ndarray, path: Path, seed: int = 0) -> Path:
    """A 1000x800 photo-like JPEG: grey paper, lighting gradient, blur, sensor noise, dark pen digit."""
    rng = np.random.default_rng(seed)
    h, w = 800, 1000
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    paper = 0.50 + 0.25 * xx + 0.10 * yy  # brighter towards the lower right
    ink = np.zeros((h, w), np.float32)
    side = 420
    stroke = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR)) / 255.0
    top, left = 190, 300
    ink[top : top + side, left : left + side] = stroke
    ink = ndimage.gaussian_filter(ink, 2.0)
    grey = paper * (1.0 - 0.75 * ink) + rng.normal(0.0, 0.03, (h, w))
    rgb = np.clip(np.stack([grey * 1.02, grey, grey * 0.95], axis=-1) * 255, 0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(path, quality=85)
    return path


@dataclass
class Sample:
    """One digit in every form, with the label the model gives it in-process (checked against MNIST)."""

    label: str
    sketch: dict  # Sketchpad value with a numpy composite
    sketch_png: Path  # the same composite as an RGBA PNG, for the HTTP sketch endpoint
    png: Path
    photo: Path


def make_samples(recognizer, folder: Path, max_tries: int = 200) -> tuple[list[Sample], int]:
    """One sample per class whose every form the model reads as its true label (at most `max_tries` looked at).

    Returns the samples and how many fixture digits were looked at.
    """
    with np.load(FIXTURES) as data:
        xs, ys = data["x"], data["y"].astype(int)
    found: dict[int, Sample] = {}
    tried = 0
    for i, (x, y) in enumerate(zip(xs[:max_tries], ys[:max_tries])):
        if y in found:
            continue
        tried += 1
        composite = render_sketch(x)
        sketch_png = folder / f"sketch_{i}.png"
        Image.fromarray(composite, "RGBA").save(sketch_png)
        sample = Sample(
            label=str(y),
            sketch={"background": None, "layers": [], "composite": composite},
            sketch_png=sketch_png,
            png=render_png(x, folder / f"digit_{i}.png"),
            photo=render_photo(x, folder / f"photo_{i}.jpg", seed=i),
        )
        forms = (sample.sketch, sample.sketch_png, sample.png, sample.photo)
        if all(top_label(predict(f, recognizer.record.task)) == sample.label for f in forms):
            found[y] = sample
        if len(found) == 10:
            break
    if not found:
        raise SystemExit("The model reads none of the fixture digits correctly in every form: is models/digits trained?")
    return [found[k] for k in sorted(found)], tried


def top_label(probabilities: dict[str, float]) -> str:
    return max(probabilities, key=probabilities.get)


# ---------------------------------------------------------------------------------------------------
# 1-2. In-process: preprocessing, inference, batches


def bench_per_image(recognizer, sample: Sample, budget: Budget) -> dict:
    n, warm = budget.per_image, budget.warmup
    out = {}
    for name, value in (("sketch dict 280x280", sample.sketch), ("PNG 200x200", sample.png), ("JPEG photo 1000x800", sample.photo)):
        out[name] = {
            "preprocess": time_calls(lambda v=value: to_model_input(v), n, warm),
            "preprocess+infer": time_calls(lambda v=value: predict(v, recognizer.record.task), n, warm),
        }
    x = to_model_input(sample.png)
    out["inference only"] = {
        "runtime, batch of 1": time_calls(lambda: recognizer.runtime(x[None]), n, warm),
        "via micro-batcher": time_calls(lambda: recognizer.probabilities(x), n, warm),
    }
    return out


def bench_batches(runtime, x: np.ndarray, seconds: float) -> list[dict]:
    """Images/s of the compiled runtime for each batch size, each run for about `seconds`."""
    rows = []
    for size in BATCH_SIZES:
        batch = np.repeat(x[None], size, axis=0)
        for _ in range(3):
            runtime(batch)
        times = []
        deadline = time.perf_counter() + seconds
        while (time.perf_counter() < deadline or len(times) < 5) and len(times) < 100_000:
            start = time.perf_counter()
            runtime(batch)
            times.append(time.perf_counter() - start)
        rows.append({
            "batch": size,
            "calls": len(times),
            "images_per_s": round(size * len(times) / sum(times), 1),
            "ms_per_batch_p50": round(float(np.median(times)) * 1000, 3),
        })
    return rows


# ---------------------------------------------------------------------------------------------------
# 3-5. HTTP: the Gradio queue API


class ApiError(RuntimeError):
    pass


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def upload(client: httpx.Client, base: str, path: Path) -> str:
    with path.open("rb") as f:
        response = client.post(f"{base}/gradio_api/upload", files=[("files", (path.name, f, "application/octet-stream"))])
    response.raise_for_status()
    return response.json()[0]


def call(client: httpx.Client, base: str, api: str, data: list) -> object:
    """POST /gradio_api/call/<api>, then read its SSE stream until `event: complete`; the output data."""
    response = client.post(f"{base}/gradio_api/call/{api}", json={"data": data})
    response.raise_for_status()
    event_id = response.json()["event_id"]
    event = None
    with client.stream("GET", f"{base}/gradio_api/call/{api}/{event_id}") as stream:
        stream.raise_for_status()
        for line in stream.iter_lines():  # ends when the server closes the stream
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "complete":
                return json.loads(line[5:])
            elif line.startswith("data:") and event == "error":
                raise ApiError(f"{api}: {line[5:].strip()[:200]}")
    raise ApiError(f"{api}: the stream ended without a complete event (last event {event!r})")


def http_predict(client: httpx.Client, base: str, api: str, path: Path) -> str:
    """Upload `path`, run `api` on it, return the top label the app answered."""
    remote = upload(client, base, path)
    if api == "predict_sketch":
        image = {"background": None, "layers": [], "composite": file_data(remote), "id": None}
    else:
        image = file_data(remote)
    output = call(client, base, api, [image, TASK])
    return output[0]["label"]


def checked(label: str, expected: str) -> None:
    if label != expected:
        raise ApiError(f"answered {label!r}, expected {expected!r}")


def bench_http(base: str, sample: Sample, budget: Budget) -> dict:
    cases = {
        "/predict PNG 200x200": ("predict", sample.png),
        "/predict JPEG 1000x800": ("predict", sample.photo),
        "/predict_sketch PNG 280x280": ("predict_sketch", sample.sketch_png),
    }
    out = {}
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        for name, (api, path) in cases.items():
            out[name] = time_calls(lambda: checked(http_predict(client, base, api, path), sample.label), budget.http, budget.warmup)
    return out


def bench_gradio_client(base: str, sample: Sample, budget: Budget) -> dict:
    from gradio_client import Client, handle_file

    start = time.perf_counter()
    client = Client(base, verbose=False)
    connect_ms = (time.perf_counter() - start) * 1000

    def image() -> str:
        return client.predict(handle_file(str(sample.png)), TASK, api_name="/predict")["label"]

    def sketch() -> str:
        value = {"background": None, "layers": [], "composite": handle_file(str(sample.sketch_png))}
        return client.predict(value, TASK, api_name="/predict_sketch")["label"]

    out = {"Client() creation": stats([connect_ms])}
    out["/predict PNG 200x200"] = time_calls(lambda: checked(image(), sample.label), budget.client, budget.warmup)
    out["/predict_sketch PNG 280x280"] = time_calls(lambda: checked(sketch(), sample.label), budget.client, budget.warmup)
    client.close()
    return out


def bench_concurrency(base: str, samples: list[Sample], budget: Budget, clients: int = CONCURRENT_CLIENTS) -> dict:
    """`clients` threads, each with its own httpx client, hammer /predict_sketch until the deadline or the cap."""
    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    errors: list[str] = []

    def take_ticket() -> int | None:
        with lock:
            if issued[0] >= budget.load_requests:
                return None
            issued[0] += 1
            return issued[0]

    def worker(deadline: float) -> None:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            while time.perf_counter() < deadline and (ticket := take_ticket()) is not None:
                sample = samples[ticket % len(samples)]
                start = time.perf_counter()
                try:
                    checked(http_predict(client, base, "predict_sketch", sample.sketch_png), sample.label)
                except Exception as exc:  # counted, not fatal: errors under load are a result
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                with lock:
                    latencies.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(start + budget.load_seconds,), daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=budget.load_seconds + 120)
    elapsed = time.perf_counter() - start
    return {
        "clients": clients,
        "requests": len(latencies) + len(errors),
        "ok": len(latencies),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "latency": stats(latencies) if latencies else None,
        "distinct_digits": len(samples),
    }


# ---------------------------------------------------------------------------------------------------
# 6. The app in a fresh subprocess; or 3-5 against the app in this process


class AppProcess:
    """`python app.py` on a free port; measures the time until its first correct /predict answer."""

    def __init__(self, workdir: Path, probe: Sample, deadline_s: float = 180.0):
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = workdir / "app.log"
        env = dict(os.environ, GRADIO_SERVER_NAME=HOST, GRADIO_SERVER_PORT=str(self.port),
                   HANDWRITING_STORE_DIR=str(workdir / "store"))
        self._log = self.log_path.open("wb")
        start = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.startup = {"first_answer_s": None, "listening_s": None}
        try:
            self._wait_first_answer(probe, start, start + deadline_s)
        except BaseException:
            self.stop()
            raise
        self.startup["peak_rss_mb_at_first_answer"] = rss_mb_of(self.proc.pid)

    def _wait_first_answer(self, probe: Sample, start: float, deadline: float) -> None:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"app.py exited with {self.proc.returncode}; log:\n{self.log_tail()}")
                try:
                    if self.startup["listening_s"] is None:
                        client.get(f"{self.url}/gradio_api/info").raise_for_status()
                        self.startup["listening_s"] = round(time.perf_counter() - start, 2)
                    checked(http_predict(client, self.url, "predict", probe.png), probe.label)
                    self.startup["first_answer_s"] = round(time.perf_counter() - start, 2)
                    return
                except (httpx.TransportError, httpx.HTTPStatusError):
                    time.sleep(0.1)
        raise TimeoutError(f"app.py gave no answer within the deadline; log:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._log.close()


@contextlib.contextmanager
def in_process_app(workdir: Path):
    """`app.demo` launched in this process, as tests/conftest.py does; yields its URL."""
    os.environ.setdefault("HANDWRITING_STORE_DIR", str(workdir / "store-inproc"))
    import app

    port = free_port()
    app.demo.queue(default_concurrency_limit=app.PREDICT_CONCURRENCY).launch(
        server_name=HOST, server_port=port, prevent_thread_lock=True, quiet=True,
        max_file_size=app.settings().max_file_size,
    )
    try:
        yield f"http://{HOST}:{port}"
    finally:
        app.demo.close()


# ---------------------------------------------------------------------------------------------------
# Report


def machine_info() -> dict:
    import gradio
    import gradio_client
    import keras
    import tensorflow as tf

    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gradio": gradio.__version__,
        "gradio_client": gradio_client.__version__,
        "httpx": httpx.__version__,
    }


def print_report(r: dict) -> None:
    m = r["machine"]
    print(f"\nServing benchmark {r['timestamp']}{'  (quick)' if r['quick'] else ''}")
    print(f"{m['cpus_usable']} CPUs, load {m['load_average_at_start']}, Python {m['python']}, "
          f"TF {m['tensorflow']}, Gradio {m['gradio']}; model {r['model']['version']}")

    def latency_table(title: str, rows: dict) -> None:
        print(f"\n{title}\n  {'':46} {'p50 ms':>9} {'p99 ms':>9} {'n':>6}")
        for name, s in rows.items():
            print(f"  {name:46} {s['p50_ms']:9.2f} {s['p99_ms']:9.2f} {s['n']:6d}")

    flat = {f"{inp}: {what}": s for inp, d in r["per_image"].items() for what, s in d.items()}
    latency_table("1. In process, per image", flat)
    print(f"\n2. Runtime batch throughput\n  {'batch':>6} {'images/s':>10} {'ms/batch p50':>13}")
    for row in r["batch_throughput"]:
        print(f"  {row['batch']:6d} {row['images_per_s']:10.0f} {row['ms_per_batch_p50']:13.2f}")
    latency_table(f"3. Raw HTTP end to end (upload + call + SSE), server {r['server']}", r["http"])
    latency_table("4. gradio_client end to end", r["gradio_client"])
    c = r["concurrency"]
    lat = c["latency"] or {"p50_ms": float("nan"), "p99_ms": float("nan")}
    print(f"\n5. {c['clients']} concurrent clients on /predict_sketch: {c['requests_per_s']} req/s, "
          f"{c['ok']} ok, {c['errors']} errors in {c['seconds']} s; latency p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms")
    for e in c["error_examples"]:
        print(f"     {e}")
    s = r["startup"]
    after_load = f", {s['peak_rss_mb_after_load']} MiB after the load tests" if "peak_rss_mb_after_load" in s else ""
    print(f"\n6. python app.py: listening after {s['listening_s']} s, first /predict answer after {s['first_answer_s']} s; "
          f"peak RSS {s['peak_rss_mb_at_first_answer']} MiB then{after_load}")
    print(f"7. Peak RSS of this benchmark process: {r['peak_rss_mb']['benchmark_process']} MiB")


# ---------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    budget = QUICK if args.quick else FULL
    result: dict = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "budget": budget.__dict__,
    }
    recognizer = get_recognizer(TASK)
    result["machine"] = machine_info()
    result["model"] = {"task": TASK, "version": recognizer.record.version, "weights": str(recognizer.record.weights)}

    with tempfile.TemporaryDirectory(prefix="bench_serving_") as tmp:
        workdir = Path(tmp)
        samples, tried = make_samples(recognizer, workdir)
        sample = samples[0]
        result["inputs"] = {"digits": [s.label for s in samples], "fixture_digits_looked_at": tried, "timed_digit": sample.label}
        print(f"inputs: digit {sample.label} for the timings; {len(samples)} digits for the load test", flush=True)

        print("1. per image ...", flush=True)
        result["per_image"] = bench_per_image(recognizer, sample, budget)
        print("2. batches ...", flush=True)
        result["batch_throughput"] = bench_batches(recognizer.runtime, to_model_input(sample.png), budget.batch_seconds)

        print("6. starting python app.py ...", flush=True)
        app_proc = AppProcess(workdir, sample)
        try:
            result["startup"] = app_proc.startup
            with contextlib.ExitStack() as stack:
                base = stack.enter_context(in_process_app(workdir)) if args.in_process else app_proc.url
                result["server"] = "in this process" if args.in_process else "subprocess (python app.py)"
                print("3. raw HTTP ...", flush=True)
                result["http"] = bench_http(base, sample, budget)
                print("4. gradio_client ...", flush=True)
                result["gradio_client"] = bench_gradio_client(base, sample, budget)
                print(f"5. {CONCURRENT_CLIENTS} concurrent clients ...", flush=True)
                result["concurrency"] = bench_concurrency(base, samples, budget)
            if not args.in_process:  # only then did the load tests run against it
                result["startup"]["peak_rss_mb_after_load"] = rss_mb_of(app_proc.proc.pid)
        finally:
            app_proc.stop()

    result["peak_rss_mb"] = {
        "benchmark_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "largest_child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run of about a minute")
    parser.add_argument("--in-process", action="store_true", help="run the HTTP benchmarks against app.demo launched in this process")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving.json")
    args = parser.parse_args(argv)

    result = run(args)
    print_report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
