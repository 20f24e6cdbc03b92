"""`read` of an 8-character line against one single-character `predict`, in the library, side by side.

    python -m benchmarks.bench_read            # about half a minute
    python -m benchmarks.bench_read --n 100

Both inputs are what the page's Sketchpad sends (opaque RGBA, black strokes): one committed MNIST fixture
digit on a 280x280 canvas for `predict`, eight of them on a 280-high line canvas for `read` (apart; and a
second line where two neighbours touch, which costs the reader a second model call for the candidate
cuts). The calls alternate, so machine load falls on both alike. Reports p50s and the ratio (the
reading issue's target: read <= 3x predict), the model calls each read made, and the "floor": the
per-character work a read shares with predict (centring 8 crops, one 8-row model call) timed alone.
Writes benchmarks/results/read.json.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image

from benchmarks.measure import machine_load, save_result, stats

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mnist_test_200.npz"
TARGET_RATIO = 3.0


def sketch(ink: np.ndarray) -> np.ndarray:
    """Float ink (1 = stroke) -> the Sketchpad's opaque RGBA canvas with pure black strokes."""
    canvas = np.full((*ink.shape, 4), 255, np.uint8)
    canvas[ink > 0.4, :3] = 0
    return canvas


def line(digits: list[np.ndarray], gaps: list[int], height: int = 110, canvas_h: int = 280) -> np.ndarray:
    """Fixture digits scaled to `height` px, side by side with the given gaps (negative: overlapping)."""
    glyphs = [np.asarray(Image.fromarray(d).resize((height, height), Image.Resampling.BILINEAR)) / 255.0
              for d in digits]
    glyphs = [g[:, np.flatnonzero(g.max(0) > 0.15)[0] : np.flatnonzero(g.max(0) > 0.15)[-1] + 1] for g in glyphs]
    ink = np.zeros((canvas_h, 60 + sum(g.shape[1] for g in glyphs) + sum(gaps)))
    x = 30
    for i, g in enumerate(glyphs):
        x += gaps[i - 1] if i else 0
        y = (canvas_h - height) // 2
        np.maximum(ink[y : y + height, x : x + g.shape[1]], g, out=ink[y : y + height, x : x + g.shape[1]])
        x += g.shape[1]
    return sketch(ink)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="timed calls of each")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "read.json")
    args = parser.parse_args(argv)

    from handwriting import get_recognizer, predict
    from handwriting.preprocessing import center_in_frame
    from handwriting.reading import read

    with np.load(FIXTURE) as d:
        x, y = d["x"], d["y"]
    picks = [int(np.flatnonzero(y == label)[0]) for label in (2, 0, 2, 6, 1, 2, 0, 1)]
    text = "".join(str(int(y[i])) for i in picks)
    apart = line([x[i] for i in picks], [30] * 7)
    touching = line([x[i] for i in picks], [30, 30, -10, 30, 30, 30, 30])  # the 3rd and 4th digits' strokes touch
    single = sketch(np.asarray(Image.fromarray(x[picks[0]]).resize((280, 280), Image.Resampling.BILINEAR)) / 255.0)

    # the shares of a read that are per character and shared with predict: centring 8 crops (at the
    # reader's working scale, ~50 px) and one model call with 8 rows
    crops = [np.asarray(Image.fromarray(x[i]).resize((50, 50), Image.Resampling.BILINEAR), np.float32) / 255.0
             for i in picks]
    rows = [center_in_frame(c) for c in crops]
    recognizer = get_recognizer("digits")
    cases = {"predict_1_character": lambda: predict(single, "digits"),
             "read_8_characters": lambda: read(apart, "digits"),
             "read_8_characters_2_touching": lambda: read(touching, "digits"),
             "part_centre_8_crops": lambda: [center_in_frame(c) for c in crops],
             "part_model_call_8_rows": lambda: recognizer.rows(rows)}
    calls: list[int] = []
    counted = recognizer.rows
    recognizer.rows = lambda xs: calls.append(len(xs)) or counted(xs)
    answers, model_calls = {}, {}
    for name, image in (("read_8_characters", apart), ("read_8_characters_2_touching", touching)):
        calls.clear()
        answers[name] = read(image, "digits").text
        model_calls[name] = list(calls)  # rows per batched model call
    recognizer.rows = counted
    for fn in cases.values():  # warm: model loaded, code paths traced
        for _ in range(10):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    load_before = machine_load()
    for _ in range(args.n):
        for name, fn in cases.items():
            started = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - started) * 1000)
    figures = {name: stats(s) for name, s in samples.items()}
    ratio = figures["read_8_characters"]["p50_ms"] / figures["predict_1_character"]["p50_ms"]
    ratio_touching = figures["read_8_characters_2_touching"]["p50_ms"] / figures["predict_1_character"]["p50_ms"]
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"predict": "280x280 Sketchpad RGBA, one MNIST fixture digit",
                   "read": f"{apart.shape[1]}x{apart.shape[0]} Sketchpad RGBA line, 8 MNIST fixture digits '{text}'",
                   "read_touching": f"{touching.shape[1]}x{touching.shape[0]}, the same with the 3rd and 4th overlapping 10 px (touching)"},
        "answers": {**answers, "truth": text},
        "model_calls_rows": model_calls,
        "timings": figures,
        "ratio_read_to_predict_p50": round(ratio, 2),
        "ratio_read_touching_to_predict_p50": round(ratio_touching, 2),
        "target": {"ratio": f"<= {TARGET_RATIO}", "pass": ratio <= TARGET_RATIO},
        "note": "part_* are pieces of read_8_characters timed alone: the per-character work it shares with "
                "predict (the same centring, the same model); their sum over predict's p50 is the ratio's floor",
        "ratio_floor_p50": round((figures["part_centre_8_crops"]["p50_ms"] + figures["part_model_call_8_rows"]["p50_ms"])
                                 / figures["predict_1_character"]["p50_ms"], 2),
        "load_before": load_before,
        "load_after": machine_load(),
    }
    save_result(result, args.out)
    for name, f in figures.items():
        print(f"{name:32s} p50 {f['p50_ms']:7.2f} ms   p99 {f['p99_ms']:7.2f} ms")
    print(f"floor (centring + model for 8) / predict p50: {result['ratio_floor_p50']}")
    print(f"read / predict p50: {ratio:.2f} (touching pair: {ratio_touching:.2f}); target <= {TARGET_RATIO}: "
          f"{'pass' if ratio <= TARGET_RATIO else 'MISSED'}; answers {answers} (truth {text})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
