"""LiteRT cost per image of model files side by side: one image at a time, as the app serves (single thread).

    python -m benchmarks.bench_model_cost OLD.tflite NEW.tflite [...] [--rounds 30] [--out results/model_cost.json]

The models are timed interleaved, round after round (each round: every model on the same 200 inputs, one
invoke each), so a change in the host's speed during the run hits all of them alike. Reports the median over
rounds of the per-image time and each model's ratio to the first one.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    from handwriting.runtime import LiteRTRuntime

    runtimes = [LiteRTRuntime(Path(m)) for m in args.models]
    x = np.random.default_rng(0).random((args.images, 28, 28), dtype=np.float32)
    for rt in runtimes:
        rt(x[:20])  # warm-up
    times = np.zeros((args.rounds, len(runtimes)))
    for r in range(args.rounds):
        for k, rt in enumerate(runtimes):
            started = time.perf_counter()
            rt(x)
            times[r, k] = (time.perf_counter() - started) / args.images
    median = np.median(times, axis=0)
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rounds": args.rounds,
        "images_per_round": args.images,
        "models": [{"model": m, "bytes": Path(m).stat().st_size, "ms_per_image_median": round(float(t) * 1e3, 4),
                    "ratio_to_first": round(float(t / median[0]), 3)} for m, t in zip(args.models, median)],
    }
    for row in result["models"]:
        print(f"{row['model']}: {row['ms_per_image_median']:.4f} ms per image, {row['ratio_to_first']:.2f}x the first ({row['bytes']:,} bytes)")
    if args.out:
        from benchmarks.measure import save_result

        save_result(result, Path(args.out), indent=1)
    return result


if __name__ == "__main__":
    main()
