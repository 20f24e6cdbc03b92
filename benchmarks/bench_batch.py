"""`/predict_batch` against `/predict` one image at a time, over raw HTTP against `python app.py`.

    python -m benchmarks.bench_batch              # 1,000 character PNGs (about a minute here)
    python -m benchmarks.bench_batch --n 200

The images are the committed MNIST fixture digits as dark-on-white PNGs at five sizes (so 1,000 distinct
files). They are uploaded first (timed apart); then one `/predict_batch` call for all of them (the server's
answer time, and images per second: the read-issue's target is >= 300 on this 2-core machine kind), then
the first 200 through `/predict` one call each, for the per-image cost of the one-at-a-time path. Every
batch answer is checked against the single call's label. Writes benchmarks/results/batch.json.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.http_api import call, new_client, upload
from benchmarks.measure import machine_load, save_result
from benchmarks.server import APP, ROOT, AppProcess

sys.path.insert(0, str(ROOT / "tests"))
import imagegen  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "mnist_test_200.npz"


def probe_ok(client, url):
    call(client, url, "model_info", [])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "batch.json")
    args = parser.parse_args(argv)
    digits = np.load(FIXTURE)
    pngs = [imagegen.encode(imagegen.dark_on_white(digits["x"][i % 200], 60 + 20 * (i // 200 % 5))) for i in range(args.n)]
    result = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "images": args.n,
              "load_before": machine_load()}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as workdir:
        with AppProcess(APP, Path(workdir), "app", probe_ok) as app:
            client = new_client()
            started = time.perf_counter()
            files = [upload(client, app.url, data, f"{i}.png") for i, data in enumerate(pngs)]
            result["upload_s"] = round(time.perf_counter() - started, 2)
            call(client, app.url, "predict_batch", [files[:8], "digits"])  # warm
            started = time.perf_counter()
            answers = call(client, app.url, "predict_batch", [files, "digits"])[0]
            seconds = time.perf_counter() - started
            result["predict_batch_s"] = round(seconds, 3)
            result["predict_batch_images_per_s"] = round(args.n / seconds, 1)
            singles = min(200, args.n)
            started = time.perf_counter()
            labels = [call(client, app.url, "predict", [files[i], "digits"])[0]["label"] for i in range(singles)]
            one_by_one = time.perf_counter() - started
            result["predict_one_by_one_images_per_s"] = round(singles / one_by_one, 1)
            result["batch_matches_single_calls"] = all(a.get("label") == b for a, b in zip(answers, labels))
            result["errors"] = sum("error" in a for a in answers)
    result["target"] = {"images_per_s": ">= 300", "pass": result["predict_batch_images_per_s"] >= 300}
    result["load_after"] = machine_load()
    save_result(result, args.out)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
