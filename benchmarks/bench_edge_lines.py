"""What the ruled-line step (`handwriting.preprocessing.edge_lines`) costs on the request path.

    python -m benchmarks.bench_edge_lines [--rounds 15] [--out benchmarks/results/edge_lines_cost.json]

The upload path's preprocessing with the step (`to_model_input`) and without it
(`training.evaluate_edge_lines.without_edge_lines`), timed interleaved round after round on the same
decoded pictures, so the host's speed changes hit both alike: 640x480 photos of 20 MNIST test digits
(`tests/imagegen.photo`), the same on ruled paper, and 280x280 sketchpad drawings. Reports the median over
rounds of the time per picture, and the difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def pictures() -> dict[str, list[np.ndarray]]:
    sys.path.insert(0, str(ROOT / "tests"))
    import imagegen

    from handwriting.decoding import to_grey

    digits = np.load(ROOT / "tests" / "fixtures" / "mnist_test_200.npz")["x"][:20]
    photos = [imagegen.photo(d, seed=i) for i, d in enumerate(digits)]
    ruled = []
    for photo in photos:
        lined = photo.copy()
        lined[425:428, 40:] = (lined[425:428, 40:] * 0.55).astype(np.uint8)
        ruled.append(lined)
    return {"photo 640x480": [to_grey(p) for p in photos], "photo on ruled paper": [to_grey(p) for p in ruled],
            "sketchpad 280x280": [to_grey(imagegen.canvas_rgba(d)) for d in digits]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "edge_lines_cost.json")
    args = parser.parse_args(argv)

    from handwriting.preprocessing import to_model_input
    from training.evaluate_edge_lines import without_edge_lines

    paths = {"without the step": without_edge_lines, "with it (served)": to_model_input}
    report = {}
    for name, items in pictures().items():
        times = {k: [] for k in paths}
        for _ in range(args.rounds):
            for k, f in paths.items():
                started = time.perf_counter()
                for item in items:
                    f(item)
                times[k].append((time.perf_counter() - started) / len(items) * 1000)
        medians = {k: round(float(np.median(v)), 3) for k, v in times.items()}
        report[name] = {"ms_per_picture": medians,
                        "difference_ms": round(medians["with it (served)"] - medians["without the step"], 3)}
        print(f"{name:22s} " + ", ".join(f"{k} {v:.3f} ms" for k, v in medians.items())
              + f"; difference {report[name]['difference_ms']:+.3f} ms")
    args.out.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    "rounds": args.rounds, "results": report}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
