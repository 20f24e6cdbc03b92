"""`/read` of an 8-character line against one `/predict`, over raw HTTP against `python app.py`.

    python -m benchmarks.bench_read_http [--n 200]

The same inputs as benchmarks/bench_read.py (the library-level comparison): committed MNIST fixture digits,
one on a 280x280 canvas for `/predict`, eight on a 280-high line for `/read`, sent as PNG files. The calls
alternate on one server, so load falls on both alike; each p50 is a whole request (Gradio's own cost
included, which both pay). Prints the p50s and their ratio (the reading issue's target: <= 3x) and writes
benchmarks/results/read_http.json.
"""

from __future__ import annotations

from handwriting.config import quiet_third_parties

quiet_third_parties()

import argparse  # noqa: E402
import io  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.bench_read import FIXTURE, TARGET_RATIO, line, sketch  # noqa: E402
from benchmarks.http_api import call, new_client, upload  # noqa: E402
from benchmarks.measure import machine_basics, save_result, stats  # noqa: E402
from benchmarks.server import APP, ROOT, AppProcess  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "read_http.json"


def png(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return buf.getvalue()


def inputs() -> tuple[bytes, bytes, str]:
    """One digit's canvas, an 8-digit line, and the line's text."""
    with np.load(FIXTURE) as data:
        x, y = data["x"], data["y"]
    picks = [int(np.flatnonzero(y == d)[0]) for d in (2, 0, 2, 6, 1, 2, 0, 1)]
    one = np.zeros((280, 280))
    one[85:195, 85:195] = np.asarray(Image.fromarray(x[picks[0]]).resize((110, 110))) / 255.0
    return png(sketch(one)), png(line([x[i] for i in picks], [28] * 7)), "".join(str(y[i]) for i in picks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="timed calls of each")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    single, eight, text = inputs()

    def probe(client, url):
        call(client, url, "predict", [upload(client, url, single, "one.png"), "digits"])

    with AppProcess(APP, Path(tempfile.mkdtemp(prefix="bench-read-http-")), "app", probe) as app, new_client() as http:
        one_file, line_file = upload(http, app.url, single, "one.png"), upload(http, app.url, eight, "line.png")
        read_text = call(http, app.url, "read", [line_file, "digits"])[0]["text"]
        for _ in range(10):
            call(http, app.url, "read", [line_file, "digits"])
            call(http, app.url, "predict", [one_file, "digits"])
        samples = {"read": [], "predict": []}
        for _ in range(args.n):
            for api, image in (("read", line_file), ("predict", one_file)):
                start = time.perf_counter()
                call(http, app.url, api, [image, "digits"])
                samples[api].append((time.perf_counter() - start) * 1000)

    timings = {api: stats(values) for api, values in samples.items()}
    ratio = round(timings["read"]["p50_ms"] / timings["predict"]["p50_ms"], 2)
    result = {"what": "raw HTTP p50 of /read (8 digits, 840-pixel-wide PNG) and /predict (one digit), alternating",
              "machine": machine_basics(), "line_text": text, "read_text": read_text, "timings": timings,
              "ratio_read_to_predict": ratio, "target_ratio": TARGET_RATIO, "passes": ratio <= TARGET_RATIO}
    save_result(result, args.out)
    print(f"/read of {text!r} (read as {read_text!r}): p50 {timings['read']['p50_ms']:.1f} ms; "
          f"/predict: {timings['predict']['p50_ms']:.1f} ms; ratio {ratio} (target <= {TARGET_RATIO}: "
          f"{'pass' if result['passes'] else 'FAIL'})\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
